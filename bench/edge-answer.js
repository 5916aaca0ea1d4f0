// Floor row: a JS worker answering at the edge, no origin call.
export default {
  async fetch() {
    return new Response('ok');
  },
};
