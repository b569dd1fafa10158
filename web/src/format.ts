// Times in the viewer's own time zone (the browser's), numbers and dispositions in words.

export const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

export function formatTime(milliseconds: number): string {
  return dateTime.format(new Date(milliseconds));
}

// ISO 8601 with the viewer's offset, for a title attribute / machine-readable <time>.
export function isoTime(milliseconds: number): string {
  return new Date(milliseconds).toISOString();
}

// "2026-11-23T10:14" as an <input type="datetime-local"> wants it, in local time.
export function toLocalInput(milliseconds: number): string {
  const d = new Date(milliseconds);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// A datetime-local value is local time: the milliseconds the API takes, or null.
export function fromLocalInput(value: string): number | null {
  if (!value) return null;
  const time = new Date(value).getTime();
  return Number.isNaN(time) ? null : time;
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatScore(score: number): string {
  const rounded = Math.round(score * 100) / 100;
  return rounded > 0 ? `+${rounded}` : String(rounded);
}

export const dispositions: Record<string, string> = {
  accept: "Accepted",
  tag: "Tagged",
  reject: "Rejected",
  tempfail: "Deferred (4xx)",
  abandoned: "Abandoned",
};

export function dispositionLabel(disposition: string): string {
  return dispositions[disposition] ?? disposition;
}
