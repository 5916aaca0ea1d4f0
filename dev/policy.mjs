// The worked example policy of a multi-tenant orders API — the same one as wrangler.toml's
// `[env.dev]` and the README — used by the end-to-end route tests.
import { DAEMON_CLIENT_ID, PARTNER_TENANT } from './demo.mjs';

export const SPA_ORIGIN = 'http://localhost:5173';

export const DEMO_ROUTES = [
  { name: 'health', path: '/health', methods: ['GET'], public: true, rate_limit: { key: ['ip'], windows: [{ requests: 120, period_seconds: 60 }] } },
  {
    name: 'read-orders', path: '/api/orders/**', methods: ['GET'],
    scopes: ['Orders.Read', 'Orders.ReadWrite'], roles: ['Orders.Read.All'], scope_or_role: true,
    cors: { origins: [SPA_ORIGIN] },
  },
  {
    name: 'write-orders', path: '/api/orders/**', methods: ['POST', 'PUT', 'PATCH', 'DELETE'],
    scopes: ['Orders.ReadWrite'], token_kind: 'delegated',
    cors: { origins: [SPA_ORIGIN] },
    rate_limit: { key: ['tenant', 'oid'], windows: [{ requests: 60, period_seconds: 60, burst: 10 }, { requests: 5000, period_seconds: 86400 }] },
  },
  { name: 'admin', path: '/api/admin/**', roles: ['Orders.Admin'], token_kind: 'app', clients: [DAEMON_CLIENT_ID] },
  { name: 'tenant-orders', path: '/api/tenants/{tenant}/orders/**', methods: ['GET'], scopes: ['Orders.Read'], tenant_segment: 'tenant' },
  { name: 'partner-reports', path: '/api/reports/**', methods: ['GET'], tenants: [PARTNER_TENANT], roles: ['Reports.Read'], roles_match: 'all' },
  { name: 'payouts', path: '/api/payouts/**', methods: ['POST'], scopes: ['Payouts.Approve'], auth_context: 'c1' },
];
