// Benchmark upper bound (c): proxies to the origin with no validation at all.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    headers.delete("host");
    const hasBody = request.method !== "GET" && request.method !== "HEAD";
    return fetch(env.ORIGIN_URL + url.pathname + url.search, {
      method: request.method, headers, body: hasBody ? request.body : undefined, redirect: "manual",
    });
  },
};
