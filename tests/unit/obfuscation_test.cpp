// Tests of the obfuscation check (src/checks/obfuscation.cpp) on whole messages through the content
// analysis: obfuscated spam gets its findings, ordinary newsletters in German, Russian and Greek,
// with soft hyphens, emoji sequences, prices and addresses, get none.
#include <gtest/gtest.h>

#include "check_test_support.hpp"

namespace gatehouse::checks {
namespace {

// The findings of the check on `message`, by name (check_test_support.hpp).
std::vector<std::string> findings_of(const std::string& message) {
  return findings_on_message(*make_obfuscation_check(), message);
}

std::string message(const std::string& subject, const std::string& content_type, const std::string& body) {
  return "From: sender@example.test\r\nTo: rcpt@example.test\r\nSubject: " + subject +
         "\r\nMIME-Version: 1.0\r\nContent-Type: " + content_type + "; charset=utf-8\r\n"
         "Content-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n";
}

using Findings = std::vector<std::string>;

TEST(ObfuscationCheck, ObfuscatedSpamHasEachFinding) {
  EXPECT_EQ(findings_of(message("Your p\u0430yp\u0430l account", "text/plain", "Please log in.")),
            (Findings{"mixed_scripts", "confusables"}));
  EXPECT_EQ(findings_of(message("Offer", "text/plain", "Buy v\u200Bi\u200Ba\u200Bg\u200Bra today")),
            Findings{"invisible_chars"});
  EXPECT_EQ(findings_of(message("Offer", "text/plain", "Cheap v1agra and c1alis, fr33 shipping")), Findings{"leet"});
  EXPECT_EQ(findings_of(message("V-I-A-G-R-A", "text/plain", "f r e e")), Findings{"spaced_letters"});
}

TEST(ObfuscationCheck, OneLeetWordOrAStrayZeroWidthSpaceIsNotEnough) {
  EXPECT_EQ(findings_of(message("Office", "text/plain", "Visit us at 1 Main St, London SW1A 1AA. Fo\u200Bo bar.")), Findings{});
}

TEST(ObfuscationCheck, OrdinaryNewslettersScoreNothing) {
  EXPECT_EQ(findings_of(message("Unser Newsletter für Dezember – 20 % Rabatt", "text/html",
                                "<html><body><p>Liebe Kundin, lieber Kunde,</p><p>unsere Ö&shy;ff&shy;nungs&shy;zeiten "
                                "ändern sich: Mo–Fr 9–18 Uhr. Preis 19,99&nbsp;€, 3er-Pack 49&nbsp;€.</p>"
                                "<p><a href=\"https://www.beispiel.de/kontakt\">Kontakt</a> · info@beispiel.de · "
                                "Hauptstraße 5a, 10115 Berlin</p></body></html>")),
            Findings{});
  EXPECT_EQ(findings_of(message("Скидки недели 🎉", "text/plain",
                                "Здравствуйте!\nНа этой неделе скидка 25% на iPhone 15 и ноутбуки ASUS. Заказ №A-1024 "
                                "можно забрать 24/7. Вопросы: shop@example.ru, +7 495 123-45-67.\n"
                                "👨\u200D👩\u200D👧 Для всей семьи! ❤\uFE0F")),
            Findings{});
  EXPECT_EQ(findings_of(message("Ενημερωτικό δελτίο", "text/plain",
                                "Αγαπητέ πελάτη, η παραγγελία σας ΑΒ-2024 στάλθηκε. Τιμή 12,50 €. "
                                "Δείτε το site μας www.example.gr ή γράψτε στο info@example.gr. Ευχαριστούμε!")),
            Findings{});
  EXPECT_EQ(findings_of(message("Invoice 2024-05 for $5.99", "text/plain",
                                "Thanks for your order of 3x USB-C cables at $5.99 each on 05/01/2024 (10:30am). "
                                "Support 24/7: help@example.com or https://example.com/help?id=4f3a7. "
                                "Win10 and mp3 players, covid19 rules, 2nd floor, R.S.V.P. by Friday. ✌\uFE0F")),
            Findings{});
}

}  // namespace
}  // namespace gatehouse::checks
