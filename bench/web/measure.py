"""Times the web API of a running gatehouse daemon over HTTP on 127.0.0.1 (bench/web/run.sh): the
first page of message-log searches (by recipient, sender domain and subject; rare and common
terms, and one that matches nothing, which has to look at every row) and each dashboard query
(24 h, 7 d, 30 d): median and worst of several runs, time to the whole answer. Then the daemon's
RSS from /proc. Prints a Markdown table."""
import argparse
import http.client
import json
import socket
import statistics
import time
import urllib.parse


def wait_for_port(port, timeout=900):   # a store of an older version builds its search index first
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def request(port, method, path, body=None, cookie=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/json"} if body else {}
    if cookie:
        headers["Cookie"] = cookie
    connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def rss(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return fields.get("VmRSS", "?"), fields.get("VmHWM", "?")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    wait_for_port(args.port)
    response, data = request(args.port, "POST", "/api/v1/session", {"username": args.user, "password": args.password})
    assert response.status == 200, data
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]

    _, data = request(args.port, "GET", "/api/v1/stats?range=24h", cookie=cookie)   # not 30d: its first answer is timed below, cold
    stats = json.loads(data)
    common_domain = stats["top_sender_domains"][0]["domain"] if stats["top_sender_domains"] else "example.org"
    queries = [
        ("search: recipient, rare (1 in 20,000)", "/api/v1/messages?" + urllib.parse.urlencode({"recipient": "zz-rare.recipient@"})),
        ("search: recipient, common", "/api/v1/messages?" + urllib.parse.urlencode({"recipient": "alice.smith"})),
        ("search: recipient, no match", "/api/v1/messages?" + urllib.parse.urlencode({"recipient": "nobody-at-all@nowhere.example"})),
        ("search: sender domain, rare", "/api/v1/messages?" + urllib.parse.urlencode({"sender": "@zz-rare-sender.example"})),
        (f"search: sender domain, common (@{common_domain})", "/api/v1/messages?" + urllib.parse.urlencode({"sender": "@" + common_domain})),
        ("search: subject word, rare", "/api/v1/messages?" + urllib.parse.urlencode({"subject": "zzmarker"})),
        ("search: subject word, common", "/api/v1/messages?" + urllib.parse.urlencode({"subject": "invoice"})),
        ("search: subject, no match", "/api/v1/messages?" + urllib.parse.urlencode({"subject": "no such words anywhere"})),
        ("dashboard: 24h", "/api/v1/stats?range=24h"),
        ("dashboard: 7d", "/api/v1/stats?range=7d"),
        ("dashboard: 30d", "/api/v1/stats?range=30d"),
    ]
    print(f"| query | rows on the first page | median ms | worst ms |")
    print(f"|---|---:|---:|---:|")
    for name, path in queries:
        times = []
        rows = None
        for _ in range(args.runs):
            start = time.perf_counter()
            response, data = request(args.port, "GET", path, cookie=cookie)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status == 200, (path, response.status, data[:200])
            body = json.loads(data)
            rows = len(body["messages"]) if "messages" in body else body["totals"]["all"]
        print(f"| {name} | {rows}{' (messages in range)' if 'stats' in path else ''} | {statistics.median(times):.1f} | {max(times):.1f} |", flush=True)
    now, peak = rss(args.pid)
    print(f"\ndaemon RSS after the queries: {now} (peak {peak})")


if __name__ == "__main__":
    main()
