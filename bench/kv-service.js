// A read-only Workers KV namespace for the benchmark under plain workerd: serves the list
// operation of workerd's KV protocol (GET /?prefix=… → { keys: [{ name, metadata }] }) from
// the ENTRIES binding ([[key, metadata], …]), and each key's metadata as its value.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method === 'GET' && url.pathname === '/') {
      const prefix = url.searchParams.get('prefix') ?? '';
      const keys = env.ENTRIES.filter(([name]) => name.startsWith(prefix)).map(([name, metadata]) => ({ name, metadata: JSON.stringify(metadata) }));
      return Response.json({ keys, list_complete: true, cacheStatus: null });
    }
    const entry = env.ENTRIES.find(([name]) => `/${encodeURIComponent(name)}` === url.pathname);
    return entry ? new Response(JSON.stringify(entry[1])) : new Response('Not Found', { status: 404 });
  },
};
