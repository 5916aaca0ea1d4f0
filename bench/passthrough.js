// The floor: a JS worker that forwards every request to the origin and checks nothing.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.CONFIG.origin + url.pathname + url.search, { method: request.method, headers: request.headers, body: request.body });
  },
};
