// The dashboard's figures from GET /api/v1/stats (src/web/api_stats.cpp; the schema is "Stats" in
// /api/v1/openapi.json).
import { request } from "./api";

export type Range = "24h" | "7d" | "30d";
export const ranges: { value: Range; label: string }[] = [
  { value: "24h", label: "24 hours" },
  { value: "7d", label: "7 days" },
  { value: "30d", label: "30 days" },
];

export interface ReasonCount {
  disposition: string;
  reason: string;
  count: number;
}

export interface Bucket {
  start: number;
  counts: Record<string, number>;
  reasons: ReasonCount[];
}

export interface TopIp {
  ip: string;
  total: number;
  rejected: number;
}

export interface TopDomain {
  domain: string;
  total: number;
  rejected: number;
}

export interface Backend {
  backend: string;
  domains: string[];
  state: "up" | "down" | "unknown" | "local";
  failures: number;
  last_failure_seen: number | null;
}

export interface Stats {
  range: Range;
  from: number;
  to: number;
  bucket_seconds: number;
  generated: number;
  domains: string[] | null;
  totals: Record<string, number>;
  buckets: Bucket[];
  top_reasons: ReasonCount[];
  top_since: number;
  top_ips: TopIp[];
  top_rejected_ips: TopIp[];
  top_sender_domains: TopDomain[];
  top_rejected_sender_domains: TopDomain[];
  queue: { size: number } | null;
  backends: Backend[];
}

export async function fetchStats(range: Range): Promise<Stats> {
  const response = await request("GET", `/api/v1/stats?range=${encodeURIComponent(range)}`);
  return (await response.json()) as Stats;
}
