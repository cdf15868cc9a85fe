// The daemon's HTTP API as the page uses it. Every request is same-origin, so a
// session cookie set by POST /v1/session goes along; the page never holds a token.

/** An answer of 401: the page shows its login form. */
export class NeedsLogin extends Error {
  constructor(detail) {
    super(detail || "this daemon needs a token");
    this.name = "NeedsLogin";
  }
}

/** Any other answer that is not 2xx, with the problem's code and detail. */
export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.name = "ApiProblem";
    this.status = status;
    this.code = problem?.code;
  }
}

async function request(path, init = {}) {
  const response = await fetch(path, {
    ...init,
    headers: { accept: "application/json", ...(init.headers ?? {}) },
    credentials: "same-origin",
    cache: "no-store",
  });
  const text = await response.text();
  const body = text === "" ? undefined : JSON.parse(text);
  if (response.status === 401) throw new NeedsLogin(body?.detail);
  if (!response.ok) throw new ApiProblem(response.status, body);
  return body;
}

const encode = encodeURIComponent;

export const api = {
  adapters: () => request("/v1/adapters"),
  adapter: (id) => request(`/v1/adapters/${encode(id)}`),
  health: () => request("/v1/health"),
  resolve: (requirement) => request(`/v1/resolve?${new URLSearchParams(requirement)}`),
  events: (since, limit) => request(`/v1/events?since=${since}&limit=${limit}`),
  /**
   * One page of the board's history bars (docs/history.md, `GET /v1/history`),
   * `filter` being list filters (one adapter: its project, domain, category and
   * provider); undefined where the daemon has none.
   */
  boardHistory: (bucket, { offset = 0, limit = 1000, filter = {} } = {}) =>
    optional(
      request(
        `/v1/history?${new URLSearchParams({ bucket, buckets: "90", offset: String(offset), limit: String(limit), ...filter })}`,
      ),
    ),
  adapterHistory: (id, window, bucket) =>
    optional(request(`/v1/adapters/${encode(id)}/history?window=${window}&bucket=${bucket}`)),
  login: (token) =>
    request("/v1/session", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token }),
    }),
  logout: () => request("/v1/session", { method: "DELETE" }),
};

/** A daemon without the history endpoints answers 404: the page then shows no history. */
async function optional(answer) {
  try {
    return await answer;
  } catch (error) {
    if (error instanceof ApiProblem && error.status === 404) return undefined;
    throw error;
  }
}
