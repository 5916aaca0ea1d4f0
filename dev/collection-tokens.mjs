// The tokens the request collection (examples/requests/) needs, one per variable, minted by
// a local authority: shared by `npm run token -- --postman-env FILE` and the newman test.
import { API_CLIENT_ID, DAEMON_CLIENT_ID, DEMO_TENANT, PARTNER_TENANT } from './demo.mjs';

/** `mint` is LocalAuthority#mint; `mintIdToken` LocalAuthority#mintIdToken. */
export function collectionTokens({ mint, mintIdToken }) {
  const base = { tenant: DEMO_TENANT, audience: API_CLIENT_ID };
  const user = (scopes, extra = {}) => mint({ ...base, scopes, ...extra });
  const app = (roles, extra = {}) => mint({ ...base, appOnly: true, roles, ...extra });
  const userReadToken = user(['Orders.Read']);
  return {
    userReadToken,
    userWriteToken: user(['Orders.ReadWrite']),
    userOtherScopeToken: user(['Profile.Read']),
    tamperedToken: userReadToken.slice(0, -6) + (userReadToken.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'),
    idToken: mintIdToken({ ...base, roles: ['Orders.Admin'] }),
    daemonReadToken: app(['Orders.Read.All']),
    adminToken: app(['Orders.Admin'], { clientId: DAEMON_CLIENT_ID }),
    otherClientAdminToken: app(['Orders.Admin']),
    partnerReportsToken: mint({ ...base, tenant: PARTNER_TENANT, appOnly: true, roles: ['Reports.Read'] }),
    demoReportsToken: app(['Reports.Read']),
    payoutsToken: user(['Payouts.Approve'], { claims: { acrs: ['c1'], xms_cc: ['cp1'] } }),
    payoutsCapableToken: user(['Payouts.Approve'], { claims: { xms_cc: ['cp1'] } }),
    payoutsPlainToken: user(['Payouts.Approve']),
  };
}

/** A Postman environment (v2.1) with `baseUrl` and every token of the collection. */
export function postmanEnvironment(baseUrl, tokens) {
  return {
    name: 'entra-edge local (make dev)',
    values: [
      { key: 'baseUrl', value: baseUrl, type: 'default', enabled: true },
      { key: 'demoTenant', value: DEMO_TENANT, type: 'default', enabled: true },
      { key: 'partnerTenant', value: PARTNER_TENANT, type: 'default', enabled: true },
      ...Object.entries(tokens).map(([key, value]) => ({ key, value, type: 'secret', enabled: true })),
    ],
  };
}
