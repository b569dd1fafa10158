// The JSON API (/api/v1/, described at /api/v1/openapi.json). Same origin: the session cookie
// (HttpOnly) goes with every request; changes carry the CSRF token the login returned.

export interface Session {
  username: string;
  role: string;
  domains: string[];
  csrf_token: string;
  expires: number;
}

export interface Check {
  name: string;
  score: number;
  detail: string;
}

export interface MessageRecord {
  id: string;
  time: number;
  client_ip: string;
  client_ptr: string;
  helo: string;
  tls: string;
  mail_from: string;
  recipients: string[];
  rejected_recipients: string[];
  header_from: string;
  subject: string;
  message_id: string;
  size: number;
  disposition: string;
  reason: string;
  reply: string;
  score: number;
  checks: Check[];
  direction: string;
  domain: string;
  backend: string;
  delivery_status: string;
  delivery_attempts: number;
  delivery_detail: string;
  has_message: boolean;
  hidden_recipients?: number;
}

export interface MessageDetail extends MessageRecord {
  headers: { name: string; value: string }[];
  raw_url: string;
}

export interface SearchPage {
  messages: MessageRecord[];
  next: string | null;
}

// An answer other than 2xx: the API's own {"error": …} text when it has one.
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken = "";
let onUnauthorized: () => void = () => {};

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

// Called when a request that needs a session gets 401 (the session expired or was ended).
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export async function request(method: string, path: string, body?: unknown, quiet401 = false): Promise<Response> {
  return send(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? "" : "application/json", quiet401);
}

// A body of another type (a CSV file).
export async function requestWithBody(method: string, path: string, body: string, contentType: string): Promise<Response> {
  return send(method, path, body, contentType, false);
}

async function send(method: string, path: string, body: string | undefined, contentType: string, quiet401: boolean): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (contentType) headers["Content-Type"] = contentType;
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "The gatehouse server cannot be reached. Is the daemon running?");
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const data = await response.json();
      if (data && typeof data.error === "string") message = data.error;
    } catch {
      /* not JSON: keep the status line */
    }
    if (response.status === 401 && !quiet401) onUnauthorized();
    throw new ApiError(response.status, message);
  }
  return response;
}

export async function currentSession(): Promise<Session | null> {
  try {
    const response = await request("GET", "/api/v1/session", undefined, true);
    return (await response.json()) as Session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export async function login(username: string, password: string): Promise<Session> {
  const response = await request("POST", "/api/v1/session", { username, password }, true);
  return (await response.json()) as Session;
}

export async function logout(): Promise<void> {
  await request("DELETE", "/api/v1/session", undefined, true);
}

export async function searchMessages(params: URLSearchParams): Promise<SearchPage> {
  const query = params.toString();
  const response = await request("GET", `/api/v1/messages${query ? "?" + query : ""}`);
  return (await response.json()) as SearchPage;
}

export async function message(id: string): Promise<MessageDetail> {
  const response = await request("GET", `/api/v1/messages/${encodeURIComponent(id)}`);
  return (await response.json()) as MessageDetail;
}

export async function rawSource(url: string): Promise<string> {
  const response = await request("GET", url);
  return await response.text();
}
