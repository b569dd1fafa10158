// The API of the recovery slice (src/web/api_recovery.cpp, api_queue.cpp): message actions
// (release, resend, train), jobs, replay and the delivery queue.
import { request } from "./api";

export interface Job {
  id: string;
  kind: "release" | "resend" | "replay";
  user: string;
  state: "running" | "done" | "failed";
  started: number;
  finished: number | null;
  total: number;
  done: number;
  failed: number;
  url: string;
  // release, resend
  message?: string;
  backend?: string;
  detail?: string;
  delivery_status?: string;
  delivered?: boolean;
  learned_as_ham?: boolean;
  // replay
  domain?: string;
  since?: number;
  until?: number;
  failures?: string[];
}

export interface ReplayPreview {
  count: number;
  since: number;
  until: number;
  domain: string;
}

export interface QueuedMessage {
  id: string;
  sender: string;
  recipients: string[];
  hidden_recipients: number;
  backend: string;
  direction: string;
  attempts: number;
  queued: number;
  next_attempt: number | null;
  in_flight: boolean;
  last_error: string;
  subject: string;
  problem: string;
}

async function json<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await request(method, path, body);
  return (await response.json()) as T;
}

const messagePath = (id: string) => `/api/v1/messages/${encodeURIComponent(id)}`;

export const release = (id: string) => json<Job>("POST", `${messagePath(id)}/release`);
export const resend = (id: string) => json<Job>("POST", `${messagePath(id)}/resend`);
export const train = (id: string, as: "ham" | "spam") => json<{ queued: boolean }>("POST", `${messagePath(id)}/train`, { as });
export const job = (id: string) => json<Job>("GET", `/api/v1/jobs/${encodeURIComponent(id)}`);

export interface Window {
  since: string;
  until?: string;
  domain?: string;
}
export const previewReplay = (window: Window) => json<ReplayPreview>("POST", "/api/v1/replay/preview", window);
export const startReplay = (window: Window) => json<Job>("POST", "/api/v1/replay", window);
export const lastReplay = () => json<{ job: Job | null; running: boolean }>("GET", "/api/v1/replay");

export const queue = () => json<{ messages: QueuedMessage[]; total: number }>("GET", "/api/v1/queue");
export const retryAll = () => json<{ retrying: number }>("POST", "/api/v1/queue/retry");
export const retryOne = (id: string) => json<{ retrying: boolean }>("POST", `/api/v1/queue/${encodeURIComponent(id)}/retry`);
export const deleteQueued = (id: string) => json<{ note: string }>("DELETE", `/api/v1/queue/${encodeURIComponent(id)}`);

// Polls a job every second until it has finished; `progress` sees each state.
export async function follow(start: Job, progress: (job: Job) => void, interval = 1000): Promise<Job> {
  let current = start;
  progress(current);
  while (current.state === "running") {
    await new Promise((resolve) => setTimeout(resolve, interval));
    current = await job(current.id);
    progress(current);
  }
  return current;
}
