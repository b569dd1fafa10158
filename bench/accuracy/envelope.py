"""The SMTP envelope a corpus message arrived with, read back from its own headers, for the filters
that are told the envelope by their MTA (gatehouse check, rspamc) — SpamAssassin reads the same
headers itself.

- MAIL FROM: the first (topmost) Return-Path ("<>" for bounces).
- Client: the first Received field, from the top, whose "from" clause names a public IPv4/IPv6
  address and a host that is not one of the collecting sites' own relays (COLLECTING_RELAYS) — the
  last hop into the collecting site, i.e. the client the site's gateway talked to. The fields above
  it are the collectors' own hops: localhost, fetchmail, private relays, and the public relays and
  forwarders that passed the collectors' mail on to the machine that filed it (a gateway in front of
  the collectors' mail server would have been the first of them and seen the sender itself).
- HELO: the name the client gave in that field (sendmail/Postfix "from HELO (rdns [ip])", exim
  "from rdns ([ip] helo=HELO)", qmail "from rdns (HELO name) (ip)").
- Reverse DNS: the verified name the receiving MTA wrote in front of the address, or "" when it
  wrote none or "unknown".
- Arrival: the time the receiving MTA wrote at the end of that field (RFC 5322 §3.6.7), in RFC 3339
  UTC; for mail with no public hop, that of the first Received field with a readable time, and for
  mail with none, when the collector filed it: the time on its mbox "From " line or in its
  Delivery-Date field (ctime form, no zone written: UTC is assumed). The Date field is judged
  against it, as a gateway judges it against its clock.

Heuristic by nature (Received fields are free-form); a message with no usable field gets client
None and the runners fall back to their own defaults."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from pathlib import Path

# The collecting sites' own public relays, as their Received fields name them: the corpus's mail
# reached the machine that filed it (dogma.slashnull.org, hq.pro-ns.net) through these, every one of
# them relaying only for the collectors' addresses (jmason.org, netnoteinc.com, taint.org, pro-ns.net):
# their secondary MX and mail hosts (mandark.labs.netnoteinc.com, mail.netnoteinc.com, webnote.net)
# and the forwarding service of netnoteinc.com (easydns.com). Mailing-list servers are not among
# them: a list is the client a subscriber's gateway talks to.
COLLECTING_RELAYS = frozenset({
    "dogma.slashnull.org", "mandark.labs.netnoteinc.com", "mail.netnoteinc.com", "webnote.net",
    "mail.webnote.net", "hq.pro-ns.net", "smtp.easydns.com", "rack3.easydns.com",
})

_IP_IN_FROM = re.compile(r"[\[(]\s*(?:IPv6:)?([0-9a-fA-F:.]{7,45})\s*[\])]")
_BARE_IP = re.compile(r"(?<![\w.:])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.])")
_HELO_EXIM = re.compile(r"\bhelo\s*=\s*([^\s)\]]+)", re.I)
_HELO_QMAIL = re.compile(r"\(\s*HELO\s+([^\s)]+)\s*\)", re.I)
_SENDMAIL_RDNS = re.compile(r"\(\s*(?:[^\s()@]+@)?([A-Za-z0-9][\w.-]*)\s*\[")


@dataclass(frozen=True)
class Envelope:
    mail_from: str              # without angle brackets; "" for the null sender
    client_ip: str | None       # None: no public address found
    helo: str
    rdns: str                   # "" when unknown
    arrival: str = ""           # RFC 3339 UTC; "" when no Received field has a readable time


def _public(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return str(address) if address.is_global else None


def parse_received(field: str) -> tuple[str, str, str] | None:
    """(ip, helo, rdns) from one Received field whose from-clause has a public address."""
    text = " ".join(field.split())
    match = re.match(r"from\s+(.*?)(?:\sby\s|;|$)", text, re.I)
    if not match:
        return None
    clause = match.group(1)
    ip = None
    for candidate in _IP_IN_FROM.findall(clause) + _BARE_IP.findall(clause):
        ip = _public(candidate.strip())
        if ip:
            break
    if not ip:
        return None
    first = clause.split()[0] if clause.split() else ""
    helo = first.strip("[]()")
    exim = _HELO_EXIM.search(clause)
    qmail = _HELO_QMAIL.search(clause)
    rdns = ""
    if exim:       # exim: "from rdns ([ip] helo=HELO)"
        helo, rdns = exim.group(1), first
    elif qmail:    # qmail: "from rdns (HELO name) (ip)"
        helo, rdns = qmail.group(1), first
    else:          # sendmail / Postfix: "from HELO (rdns [ip])"
        named = _SENDMAIL_RDNS.search(clause)
        if named:
            rdns = named.group(1)
    if rdns.lower() in ("unknown", "") or _public(rdns.strip("[]")) or rdns.startswith("["):
        rdns = ""
    if not helo or helo.lower() == "unknown":
        helo = f"[{ip}]"
    return ip, helo.rstrip("."), rdns.rstrip(".").lower()


def received_time(field: str) -> str:
    """The time after the last ';' of a Received field in RFC 3339 UTC, or "" when unreadable."""
    if ";" not in field:
        return ""
    try:
        when = parsedate_to_datetime(" ".join(field.rsplit(";", 1)[1].split()))
    except (TypeError, ValueError, IndexError):
        return ""
    if when is None:
        return ""
    if when.tzinfo is None:       # "-0000" (RFC 5322 §3.3: the zone is not known): UTC
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def mbox_time(line: str) -> str:
    """The ctime at the end of an mbox "From sender  Fri Sep  6 11:51:20 2002" line (or of a
    Delivery-Date field) in RFC 3339, UTC assumed; "" when there is none."""
    words = line.split()
    try:
        when = datetime.strptime(" ".join(words[-5:]), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return ""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def collecting_relay(hop: tuple[str, str, str]) -> bool:
    """Whether a parsed hop (ip, helo, rdns) is one of the collecting sites' own relays."""
    _, helo, rdns = hop
    return helo.lower() in COLLECTING_RELAYS or rdns in COLLECTING_RELAYS


def read_envelope(path: Path | str) -> Envelope:
    with open(path, "rb") as data:
        raw = data.read()
    filed = ""
    if raw.startswith(b"From "):
        first, _, raw = raw.partition(b"\n")
        filed = mbox_time(first.decode("latin-1"))
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    return_path = headers.get("Return-Path")
    mail_from = ""
    if return_path is not None:
        mail_from = str(return_path).strip().strip("<>").strip()
    fields = [str(field) for field in headers.get_all("Received") or []]
    for field in fields:
        found = parse_received(field)
        if found and not collecting_relay(found):
            return Envelope(mail_from, *found, received_time(field))
    filed = filed or mbox_time(str(headers.get("Delivery-Date", "")))
    return Envelope(mail_from, None, "", "", next(filter(None, map(received_time, fields)), filed))


if __name__ == "__main__":
    import sys
    for name in sys.argv[1:]:
        print(name, read_envelope(name))
