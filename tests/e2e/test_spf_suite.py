"""RFC 7208 (SPF) conformance, end to end: the published openspf test suite against the real binary.

../shared/corpora/spf/rfc7208-tests.yml is the RFC 7208 test suite (release 2014.04, BSD licence in
rfc7208-tests.LICENSE next to it), read as shipped from the shared corpora. For each of its 16
scenarios this module turns the scenario's `zonedata` into DNS served by a real unbound on loopback
(tests/fixtures/dns/run-zone.sh: a resolver whose root zone is a zone file generated here, so every
name is answered authoritatively, with NXDOMAIN/NODATA, CNAMEs, multi-string TXT and type SPF as in
the data), then runs every test of the scenario through one `gatehouse spf --batch` process and
checks each result against the allowed results and, where given, the explanation.

How the zone data is read (the conventions of the suite's own driver, stated in its header):
  - SPF-type records are also published as TXT unless the name has TXT data of its own ("TXT: NONE"
    included), since the suite writes most policies as type SPF. The SPF records stay as type 99.
  - "TIMEOUT" makes lookups of that name time out, except for record types listed before the
    TIMEOUT marker, which are answered with those records. Here the name becomes a CNAME into a
    zone whose only server is a loopback UDP socket that never replies, so the resolver answers
    SERVFAIL (as it does when a real server is unreachable); the types listed before TIMEOUT are
    answered from unbound local-data (typetransparent), ahead of that.
  - A record with no strings ("SPF: []") is published with empty RDATA (RFC 3597 "\\# 0").
  - "\\xNN" escapes in the YAML stand for the bytes NN of the record (latin-1), as in the original
    zone data.
The suite's driver sets the default explanation to "DEFAULT"; so does this module
(--default-explanation DEFAULT), and "explanation: DEFAULT" then means "no exp= explanation".
"""
import json
import pathlib
import re
import signal
import socket
import struct
import subprocess
import time

import pytest
import yaml

from conftest import ROOT, SHARED, Process, free_port_number, wait_until

SUITE = SHARED / "corpora" / "spf" / "rfc7208-tests.yml"
RUN_ZONE = ROOT / "tests" / "fixtures" / "dns" / "run-zone.sh"
DNS_TRY_MS = 2000          # gatehouse's per-try DNS timeout (c-ares tries twice)
TIMEOUT_ZONE = "timeout.invalid"


def load_suite():
    with open(SUITE, "rb") as handle:
        return [document for document in yaml.safe_load_all(handle) if document]


SCENARIOS = load_suite()


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


CASES = [pytest.param(index, name, id=f"{slug(scenario['description'])}/{name}")
         for index, scenario in enumerate(SCENARIOS) for name in scenario["tests"]]


# --- zone data → zone file ------------------------------------------------------------------------

def to_bytes(text):
    """YAML "\\xNN" escapes are code points below 256 standing for bytes; anything else is UTF-8."""
    text = str(text)
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def escape_label(label):
    # Master-file escapes (RFC 1035 §5.1): \DDD for everything but letters, digits, "-" and "_".
    return "".join(chr(b) if (chr(b).isascii() and chr(b).isalnum()) or chr(b) in "-_" else f"\\{b:03d}"
                   for b in to_bytes(label))


def owner_name(name):
    name = str(name).rstrip(".")
    return ".".join(escape_label(label) for label in name.split(".")) + "."


def target_name(name):
    name = str(name).rstrip(".")
    return owner_name(name) if name else "."   # "" is the root: a null MX (RFC 7505)


def character_strings(value):
    strings = [value] if isinstance(value, str) else list(value)
    if not strings:
        return "\\# 0"   # a TXT record without any character-string
    parts = []
    for string in strings:
        data = to_bytes(string)
        for start in range(0, max(len(data), 1), 255):   # a character-string holds at most 255 octets
            chunk = data[start:start + 255]
            parts.append('"' + "".join(chr(b) if 0x20 <= b < 0x7f and b not in (0x22, 0x5c) else f"\\{b:03d}"
                                       for b in chunk) + '"')
    return " ".join(parts)


def resource_record(name, rtype, value):
    if rtype in ("TXT", "SPF"):
        rdata = character_strings(value)
    elif rtype == "MX":
        preference, host = value
        rdata = f"{int(preference)} {target_name(host)}"
    elif rtype in ("PTR", "CNAME"):
        rdata = target_name(value)
    elif rtype in ("A", "AAAA"):
        rdata = str(value)
    else:
        raise ValueError(f"record type {rtype} of {name} is not supported by this driver")
    return f"{owner_name(name)} 300 IN {rtype} {rdata}"


def build_dns(zonedata, black_hole_port):
    """The root zone file and the unbound configuration lines for one scenario's zonedata."""
    zone = [". 300 IN SOA ns.root.invalid. hostmaster.root.invalid. 1 3600 600 86400 300",
            ". 300 IN NS ns.root.invalid."]
    conf = []
    for index, (name, entries) in enumerate(zonedata.items()):
        has_txt = any(isinstance(entry, dict) and "TXT" in entry for entry in entries)
        answered, generated, timed_out = [], [], False
        for entry in entries:
            if entry == "TIMEOUT":
                timed_out = True
                continue
            ((rtype, value),) = entry.items()
            if rtype == "SPF" and not has_txt:
                generated.append(("TXT", value))
            if value == "NONE" or timed_out:
                continue   # "NONE": no record of that type; after TIMEOUT: that type times out
            answered.append((rtype, value))
        if not timed_out:
            # The TXT copies of SPF records come after the name's own data (after a TIMEOUT, if any).
            answered += generated
            zone += [resource_record(name, rtype, value) for rtype, value in answered]
            continue
        zone.append(f"{owner_name(name)} 300 IN CNAME t{index}.{TIMEOUT_ZONE}.")
        if answered:
            conf.append(f'local-zone: "{owner_name(name)}" typetransparent')
            conf += [f"local-data: '{resource_record(name, rtype, value)}'" for rtype, value in answered]
    conf += ["stub-zone:", f'  name: "{TIMEOUT_ZONE}."', f"  stub-addr: 127.0.0.1@{black_hole_port}"]
    return "\n".join(zone) + "\n", "\n".join(conf) + "\n"


# --- running a scenario ---------------------------------------------------------------------------

def root_answers(port, timeout=0.5):
    """Whether a DNS server on 127.0.0.1:port answers ". SOA" with NOERROR and an answer."""
    query = struct.pack(">HHHHHH", 0x5350, 0x0100, 1, 0, 0, 0) + b"\x00" + struct.pack(">HH", 6, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(query, ("127.0.0.1", port))
            data, _ = sock.recvfrom(4096)
        except OSError:
            return False
    return (len(data) >= 12 and data[:2] == b"\x53\x50" and data[3] & 0x0F == 0
            and struct.unpack(">H", data[6:8])[0] > 0)


def run_scenario(gatehouse_bin, workdir, scenario):
    """Serves the scenario's zone data and evaluates all its tests with one gatehouse process."""
    # The server that never answers: a bound UDP socket nobody reads, held until the scenario ends.
    black_hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    black_hole.bind(("127.0.0.1", 0))
    zone_text, conf_text = build_dns(scenario["zonedata"], black_hole.getsockname()[1])
    zone_file = workdir / "root.zone"
    conf_file = workdir / "scenario.conf"
    zone_file.write_text(zone_text, encoding="latin-1")
    conf_file.write_text(conf_text, encoding="latin-1")
    port = free_port_number()
    server = Process(["bash", str(RUN_ZONE), str(port), str(zone_file), str(conf_file)], workdir / "unbound.log")
    try:
        wait_until(lambda: server.poll() is None and root_answers(port), timeout=20,
                   message=f"unbound serving {zone_file} (log: {workdir / 'unbound.log'})")
        queries = [{"id": name, "ip": str(test["host"]), "helo": str(test.get("helo", "")),
                    "sender": str(test.get("mailfrom", ""))} for name, test in scenario["tests"].items()]
        started = time.monotonic()
        completed = subprocess.run(
            [gatehouse_bin, "spf", "--batch", "--dns", f"127.0.0.1:{port}", "--timeout-ms", str(DNS_TRY_MS),
             "--default-explanation", "DEFAULT"],
            input="".join(json.dumps(query) + "\n" for query in queries), capture_output=True, text=True,
            timeout=60 + 10 * len(queries))
        elapsed = time.monotonic() - started
    finally:
        server.stop(signal.SIGTERM, timeout=10)
        black_hole.close()
    assert completed.returncode == 0, f"gatehouse spf --batch exited {completed.returncode}: {completed.stderr}"
    outcomes = {}
    for line in completed.stdout.splitlines():
        outcome = json.loads(line)
        outcomes[outcome["id"]] = outcome
    assert set(outcomes) == set(scenario["tests"]), completed.stdout
    return {"outcomes": outcomes, "elapsed": elapsed, "zone": zone_text, "conf": conf_text}


@pytest.fixture(scope="session")
def suite_results(gatehouse_bin, tmp_path_factory):
    """Runs each scenario once, the first time one of its tests asks for it."""
    cache = {}

    def results(index):
        if index not in cache:
            try:
                cache[index] = run_scenario(gatehouse_bin, tmp_path_factory.mktemp(f"spf-scenario-{index}"),
                                            SCENARIOS[index])
            except Exception as error:   # every test of the scenario reports it; none reruns it
                cache[index] = error
        if isinstance(cache[index], Exception):
            raise cache[index]
        return cache[index]

    return results


@pytest.mark.parametrize("scenario_index, test_name", CASES)
def test_rfc7208_suite(suite_results, scenario_index, test_name):
    scenario = SCENARIOS[scenario_index]
    test = scenario["tests"][test_name]
    outcome = suite_results(scenario_index)["outcomes"][test_name]
    expected = test["result"] if isinstance(test["result"], list) else [test["result"]]
    context = (f"{scenario['description']} / {test_name} (spec {test.get('spec')}): "
               f"host={test['host']} helo={test.get('helo')!r} mailfrom={test.get('mailfrom')!r} → {outcome}")
    assert outcome.get("result") in expected, f"expected one of {expected}; {context}"
    if "explanation" in test:
        assert outcome["explanation"] == test["explanation"], context


def test_suite_is_complete():
    """Every scenario and test of the published suite is run (none lost to a parse problem)."""
    assert len(SCENARIOS) == 16 and sum(len(s["tests"]) for s in SCENARIOS) == 203
    assert len(CASES) == 203
    assert (SUITE.parent / "rfc7208-tests.LICENSE").is_file()


# --- the command line itself ----------------------------------------------------------------------

def run_spf(gatehouse_bin, *args, input=None):
    return subprocess.run([gatehouse_bin, "spf", *args], input=input, capture_output=True, text=True, timeout=30)


def test_spf_cli_rejects_bad_arguments(gatehouse_bin):
    dead_dns = f"127.0.0.1:{free_port_number()}"   # never asked: every call below fails before any lookup

    bad_ip = run_spf(gatehouse_bin, "--ip", "300.1.2.3", "--sender", "a@example.com", "--dns", dead_dns)
    assert bad_ip.returncode != 0
    assert '--ip: "300.1.2.3" is not an IP address' in bad_ip.stderr
    assert bad_ip.stdout == ""

    no_ip = run_spf(gatehouse_bin, "--sender", "a@example.com", "--dns", dead_dns)
    assert no_ip.returncode != 0
    assert "--ip is required" in no_ip.stderr

    bad_timeout = run_spf(gatehouse_bin, "--ip", "192.0.2.1", "--sender", "a@example.com", "--dns", dead_dns,
                          "--timeout-ms", "0")
    assert bad_timeout.returncode != 0
    assert "--timeout-ms" in bad_timeout.stderr

    bad_server = run_spf(gatehouse_bin, "--ip", "192.0.2.1", "--sender", "a@example.com", "--dns", "not a server")
    assert bad_server.returncode != 0
    assert "DNS" in bad_server.stderr

    batch = run_spf(gatehouse_bin, "--batch", "--dns", dead_dns,
                    input='{"id": 7, "ip": "bogus", "sender": "a@example.com"}\nnot json\n')
    assert batch.returncode == 1
    lines = [json.loads(line) for line in batch.stdout.splitlines()]
    assert lines[0] == {"id": 7, "error": '"bogus" is not an IP address'}
    assert lines[1]["id"] is None and lines[1]["error"].startswith("not JSON")
