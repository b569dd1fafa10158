"""Links end to end through the real gateway: a phishing link (text www.paypal.com, target elsewhere)
is scored by default and refused when configured so, and explained in the log row; a link to a domain
a URI block list (the fixture zones dbl.test, multi.uribl.test, ip.uribl.test) lists is refused with
a reply naming the zone; a site on the local block list is refused; hidden text is scored; a clean
newsletter with many links is delivered untouched by these checks."""
from conftest import build_message, send_message, wait_until

MIME_HTML = ("MIME-Version: 1.0", "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: 8bit")
MIME_TEXT = ("MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit")

DBL = {"zone": "dbl.test", "kind": "domain", "other": 1.0, "result": [
    {"codes": "127.0.1.2-127.0.1.99", "meaning": "DBL spam domain", "action": "reject"}]}
MULTI = {"zone": "multi.uribl.test", "kind": "domain", "result": [
    {"codes": "127.0.0.2", "meaning": "URIBL black", "action": 4.0}]}
IP_LIST = {"zone": "ip.uribl.test", "kind": "ip", "result": [
    {"codes": "127.0.0.2", "meaning": "listed address", "action": 3.0}]}


def html_message(subject, html, sender="news@remote.test"):
    return build_message(subject, sender=sender, body=html + "\r\n", extra_headers=MIME_HTML)


def start(start_gatehouse, sink, sections=None):
    domains = [{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}]
    return start_gatehouse(domains, sections=sections or {})


def contributions(row, name):
    return [c for c in row["checks"] if c["name"] == name]


def test_phishing_link_is_scored_by_default_and_refused_when_configured(smtp_sink, start_gatehouse):
    phishing = html_message(
        "Your account is limited",
        "<html><body><p>Dear customer, please confirm your details at "
        "<a href=\"http://secure-login.account-check.test/pp/\">www.paypal.com</a> within 24 hours.</p></body></html>")

    sink = smtp_sink()
    gh = start(start_gatehouse, sink)
    result = send_message(gh.port, "alice@example.test", message=phishing)
    assert result.code == 250, result
    row = gh.wait_for_row(result.id)
    found = contributions(row, "phishing")
    assert [c["score"] for c in found] == [4.0], row["checks"]
    assert found[0]["detail"] == ('link_text_brand: text "www.paypal.com" links to secure-login.account-check.test'), found
    wait_until(lambda: sink.messages(), message="scored message delivered")
    assert "X-Gatehouse-Score:" in sink.texts()[0]

    strict = start(start_gatehouse, smtp_sink(), sections={"filter.checks.phishing": {"link_text_brand": "reject"}})
    result = send_message(strict.port, "alice@example.test", message=phishing)
    assert result.code == 554, result
    assert result.text.startswith('5.7.1 Message refused as phishing: text "www.paypal.com" links to '
                                  'secure-login.account-check.test (ID:'), result
    row = strict.wait_for_row(result.id)
    assert row["disposition"] == "reject" and row["reason"] == "phishing", row
    assert any(c["detail"].startswith("link_text_brand:") and c["detail"].endswith("→ reject")
               for c in contributions(row, "phishing")), row["checks"]


def test_link_to_a_listed_domain_is_refused_naming_the_zone(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    # A reject line out of reach, so that the score-only listings below are delivered whatever the
    # other (fitted) scores of the message add up to.
    gh = start(start_gatehouse, sink, sections={"uribl": {"zone": [DBL, MULTI, IP_LIST]},
                                                "filter": {"reject_threshold": 50.0}})
    # The listed domain hides behind a subdomain and a redirector; the reply names it and the zone.
    listed = html_message(
        "Big savings",
        "<html><body><p>Deals of the week:</p>"
        "<a href=\"https://r.mailer-example.test/c?url=https%3A%2F%2Fwww.evil-shop.test%2Fbuy\">Shop now</a>"
        "</body></html>")
    result = send_message(gh.port, "alice@example.test", message=listed)
    assert result.code == 554, result
    assert result.text.startswith("5.7.1 Message contains a blocked link: evil-shop.test in dbl.test (ID:"), result
    row = gh.wait_for_row(result.id)
    assert row["disposition"] == "reject" and row["reason"] == "uribl", row
    assert any(c["detail"].startswith("DBL spam domain: evil-shop.test in dbl.test") for c in contributions(row, "uribl")), row

    # Score-only listings: a domain in the multi list (plain text, disguised) and a numeric host in the IP list.
    scored = build_message("Links", sender="news@remote.test", extra_headers=MIME_TEXT,
                           body="See hxxp://spam-links[.]test/x and http://3325256711/img\r\n")   # 198.51.100.7
    result = send_message(gh.port, "alice@example.test", message=scored)
    assert result.code == 250, result
    row = gh.wait_for_row(result.id)
    details = {c["detail"]: c["score"] for c in contributions(row, "uribl")}
    assert details == {"URIBL black: spam-links.test in multi.uribl.test": 4.0,
                       "listed address: 198.51.100.7 in ip.uribl.test": 3.0}, row["checks"]

    # The lists' "query refused" answer (127.255.255.254) is not a listing.
    refused = html_message("Hello", "<a href=\"https://refused-answer.test/\">our site</a>")
    result = send_message(gh.port, "alice@example.test", message=refused)
    assert result.code == 250, result
    row = gh.wait_for_row(result.id)
    assert all(c["score"] == 0 for c in contributions(row, "uribl")), row["checks"]


def test_local_block_list_refuses_links_to_known_malware_sites(smtp_sink, start_gatehouse, tmp_path):
    block_file = tmp_path / "blocked-sites.txt"
    block_file.write_text("# malware distribution\ndownloads.malware-cdn.test\n198.51.100.99   # a C2 address\n")
    sink = smtp_sink()
    gh = start(start_gatehouse, sink, sections={"uribl": {"local_block": ["phish-kit.test"],
                                                          "local_block_file": str(block_file)}})
    for body, listed in [("Invoice: https://files.phish-kit.test/invoice.zip\r\n", "phish-kit.test"),
                         ("Update: http://x.downloads.malware-cdn.test/setup.exe\r\n", "downloads.malware-cdn.test"),
                         ("Update: http://198.51.100.99/setup.exe\r\n", "198.51.100.99")]:
        message = build_message("Invoice", sender="billing@remote.test", extra_headers=MIME_TEXT, body=body)
        result = send_message(gh.port, "alice@example.test", message=message)
        assert result.code == 554, (body, result)
        assert result.text.startswith(f"5.7.1 Message contains a blocked link: {listed} (local list) (ID:"), result
    # A sibling of a listed host is not listed.
    message = build_message("Invoice", sender="billing@remote.test", extra_headers=MIME_TEXT,
                            body="Get it at http://malware-cdn.test/ or http://other.malware-cdn.test/\r\n")
    assert send_message(gh.port, "alice@example.test", message=message).code == 250


def test_hidden_text_is_scored(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start(start_gatehouse, sink)
    filler = " ".join(["meadow river lantern harvest orchard pebble"] * 12)
    message = html_message(
        "Hello",
        f"<html><body><p>Cheap watches, best prices, order today!</p>"
        f"<div style=\"display:none\">{filler}</div>"
        f"<p><font color=\"#ffffff\">{filler}</font></p></body></html>")
    result = send_message(gh.port, "alice@example.test", message=message)
    assert result.code == 250, result
    row = gh.wait_for_row(result.id)
    found = contributions(row, "html_obfuscation")
    assert len(found) == 1 and found[0]["score"] == 2.0, row["checks"]
    assert found[0]["detail"].startswith("hidden_text: ") and "hidden characters" in found[0]["detail"], found


NEWSLETTER = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Autumn news</title>
<style>.button { background: #e4002b; color: #ffffff; }</style></head>
<body style="margin:0;background-color:#f4f4f4">
<div style="display:none;max-height:0;overflow:hidden">Our autumn collection is here &zwnj;&nbsp;&zwnj;&nbsp;</div>
<table role="presentation" width="100%" bgcolor="#f4f4f4"><tr><td align="center">
<table width="600" bgcolor="#ffffff"><tr><td style="padding:20px;color:#333333">
<a href="https://www.shop.example.com/?utm_source=news"><img src="https://cdn.shop.example.com/logo.png" alt="Shop" width="120" height="40"></a>
<h1>Autumn sale</h1>
<p>Dear customer, enjoy 20% off all coats this week. Visit
<a href="https://click.shop.example.com/t/abc123">www.shop.example.com</a> or one of our stores.</p>
{items}
<p><a class="button" href="https://click.shop.example.com/t/sale">Shop the sale</a></p>
<p style="font-size:11px;color:#999999">You receive this because you subscribed at shop.example.com.
<a href="https://shop.example.com/unsubscribe?u=42">Unsubscribe</a> |
<a href="https://shop.example.com/preferences">Preferences</a> |
<a href="https://www.facebook.com/shopexample">Facebook</a> |
<a href="https://www.instagram.com/shopexample">Instagram</a></p>
</td></tr></table></td></tr></table>
<img src="https://click.shop.example.com/open/abc123.gif" width="1" height="1" alt="">
</body></html>"""


def test_clean_newsletter_with_many_links_is_delivered(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start(start_gatehouse, sink, sections={"uribl": {"zone": [DBL, MULTI]}})
    items = "\n".join(f'<p><a href="https://www.shop.example.com/product/{i}?utm_campaign=autumn">'
                      f'<img src="https://cdn.shop.example.com/p/{i}.jpg" alt="Coat {i}" width="180"></a><br>'
                      f'<a href="https://www.shop.example.com/product/{i}">Wool coat no. {i}</a> &euro;{90 + i}</p>'
                      for i in range(30))
    result = send_message(gh.port, "alice@example.test", message=html_message("Autumn sale", NEWSLETTER.replace("{items}", items)))
    assert result.code == 250, result
    row = gh.wait_for_row(result.id)
    for name in ("phishing", "uribl", "html_obfuscation"):
        assert all(c["score"] == 0 for c in contributions(row, name)), row["checks"]
    wait_until(lambda: sink.messages(), message="newsletter delivered")
    assert "Wool coat no. 29" in sink.texts()[0]
