// Tests of the HTML reader (src/content/html.hpp): visible text as a mail reader shows it (block
// and inline elements, comments, entities, non-rendered elements), hidden text by every trick it
// knows (inline styles, legacy attributes, inheritance, same colour as the background), links with
// their text, images, forms, broken markup and the limits.
#include "content/html.hpp"

#include <gtest/gtest.h>

namespace gatehouse::content {
namespace {

TEST(Html, InlineElementsAndCommentsDoNotSplitWordsBlocksDo) {
  auto html = extract_html("<p>Buy Vi<b></b>agra and Ci<!-- x -->alis</p><div>now</div>today<br>ok");
  EXPECT_EQ(html.visible_text, "Buy Viagra and Cialis\nnow\ntoday\nok");
  EXPECT_EQ(html.split_words, 2u);
  EXPECT_TRUE(html.hidden_text.empty());
}

TEST(Html, BoldPartOfAWordIsNotASplit) {
  auto html = extract_html("<p><b>W</b>elcome to our <i>news</i>letter</p>");
  EXPECT_EQ(html.visible_text, "Welcome to our newsletter");
  EXPECT_EQ(html.split_words, 0u);
}

TEST(Html, ScriptStyleHeadAndTemplateAreNotShownEntitiesAreDecoded) {
  auto html = extract_html(
      "<html><head><title>Title here</title><style>p{color:red}</style></head><body>"
      "<script>var hidden = 'script text';</script><template>template text</template>"
      "<p>Fish &amp; chips &lt;today&gt; &euro;5&nbsp;only</p></body></html>");
  EXPECT_EQ(html.visible_text, "Fish & chips <today> \xE2\x82\xAC" "5 only");
  EXPECT_TRUE(html.hidden_text.empty());
}

TEST(Html, DisplayNoneVisibilityOpacityAndTinyFontsAreHidden) {
  auto html = extract_html(
      "<p>Shown</p>"
      "<div style=\"display: none\">one</div>"
      "<span style='visibility:hidden'>two</span>"
      "<span style='opacity:0'>three</span>"
      "<span style='font-size:0px'>four</span>"
      "<span style='font-size:1px'>five</span>"
      "<div hidden>six</div>"
      "<div style='max-height:0;overflow:hidden'>seven</div>"
      "<span style='font-size:12px'>Visible too</span>");
  EXPECT_EQ(html.visible_text, "Shown\nVisible too");
  EXPECT_EQ(html.hidden_text, "one\ntwo three four five\nsix\nseven");
  EXPECT_EQ(html.hidden_chars, std::string("onetwothreefourfivesixseven").size());
}

TEST(Html, HiddennessIsInheritedByNestedElements) {
  auto html = extract_html("<div style='display:none'><p>deep <b>inside <i>here</i></b></p></div><p>out</p>");
  EXPECT_EQ(html.visible_text, "out");
  EXPECT_EQ(html.hidden_text, "deep inside here");
}

TEST(Html, TextInTheBackgroundColourIsHidden) {
  auto html = extract_html(
      "<body bgcolor=\"#ffffff\"><p>Real offer</p>"
      "<font color=\"#FFFFFF\">white on white</font>"
      "<span style=\"color: rgb(254, 254, 254)\">almost white</span>"
      "<table><tr><td bgcolor=\"#000000\"><font color=\"white\">white on black</font></td></tr></table>"
      "<div style=\"background-color:#003366\"><span style=\"color:#003366\">navy on navy</span></div>"
      "</body>");
  EXPECT_EQ(html.visible_text, "Real offer\nwhite on black");
  EXPECT_EQ(html.hidden_text, "white on white almost white\nnavy on navy");
}

TEST(Html, UnknownBackgroundNeverHidesText) {
  // A class or a background image may paint anything behind the text: white text stays visible.
  auto html = extract_html(
      "<table><tr><td class=\"button\"><span style=\"color:#ffffff\">Shop now</span></td>"
      "<td style=\"background:url(x.png)\"><font color=white>Sale</font></td></tr></table>");
  EXPECT_EQ(html.visible_text, "Shop now\nSale");
  EXPECT_TRUE(html.hidden_text.empty());
  // A style sheet that paints backgrounds: white text without a background of its own is not judged.
  html = extract_html("<style>body { background: #202020 }</style><p style=\"color:#fff\">Dark theme</p>"
                      "<div style=\"background-color:#fff\"><span style=\"color:#fff\">still hidden</span></div>");
  EXPECT_EQ(html.visible_text, "Dark theme");
  EXPECT_EQ(html.hidden_text, "still hidden");
}

TEST(Html, LinksGetTheirVisibleTextAndLinkColourIsNotInherited) {
  auto html = extract_html(
      "<font color=white><a href=\" https://www.example.com/a \">Our <b>site</b></a></font>"
      "<a href='https://click.example.net/x'><img src='https://cdn.example.net/logo.png' alt='Logo' width=120 height=\"40\"></a>"
      "<map><area href=\"http://area.example.org/\"></map>");
  ASSERT_EQ(html.links.size(), 3u);
  EXPECT_EQ(html.links[0].href, "https://www.example.com/a");
  EXPECT_EQ(html.links[0].text, "Our site");
  EXPECT_EQ(html.links[1].text, "");
  EXPECT_EQ(html.links[2].href, "http://area.example.org/");
  ASSERT_EQ(html.images.size(), 1u);
  EXPECT_EQ(html.images[0].src, "https://cdn.example.net/logo.png");
  EXPECT_EQ(html.images[0].alt, "Logo");
  EXPECT_EQ(html.images[0].width, 120);
  EXPECT_EQ(html.images[0].height, 40);
  EXPECT_TRUE(html.images[0].remote);
  EXPECT_EQ(html.remote_images, 1u);
  EXPECT_EQ(html.visible_text, "Our site");   // white font, but the link shows in link colour
}

TEST(Html, TrackingPixelSizeFromStyleAndInlineImagesAreNotRemote) {
  auto html = extract_html(
      "<img src=\"http://t.example.net/open.gif\" style=\"width:1px;height:1px;border:0\">"
      "<img src=\"cid:logo@x\"><img src=\"data:image/png;base64,AAAA\">");
  ASSERT_EQ(html.images.size(), 3u);
  EXPECT_EQ(html.images[0].width, 1);
  EXPECT_EQ(html.images[0].height, 1);
  EXPECT_FALSE(html.images[1].remote);
  EXPECT_FALSE(html.images[2].remote);
  EXPECT_EQ(html.remote_images, 1u);
}

TEST(Html, FormActionsAreCollected) {
  auto html = extract_html("<form action=\"https://collect.example.net/login.php\" method=post>"
                           "Password: <input type=password name=p><input type=submit value=Go></form>");
  ASSERT_EQ(html.form_actions.size(), 1u);
  EXPECT_EQ(html.form_actions[0], "https://collect.example.net/login.php");
  EXPECT_EQ(html.visible_text, "Password:");
}

TEST(Html, ZeroWidthCharactersAreDroppedAndCounted) {
  auto html = extract_html("<p>Vi&#8203;ag&zwnj;ra fr\xC2\xAD" "ee</p>");
  EXPECT_EQ(html.visible_text, "Viagra free");
  EXPECT_EQ(html.invisible_chars, 3u);
  EXPECT_EQ(html.split_words, 3u);
}

TEST(Html, HiddenTextInsideAWordSplitsIt) {
  auto html = extract_html("<p>Via<span style=\"display:none\">xq</span>gra</p>");
  EXPECT_EQ(html.visible_text, "Viagra");
  EXPECT_EQ(html.hidden_text, "xq");
  EXPECT_EQ(html.split_words, 1u);
}

TEST(Html, NewsletterMarkupWithPreheader) {
  const char* newsletter = R"(<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>.btn{background:#e4002b}</style></head>
<body style="margin:0;background-color:#f4f4f4">
<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">Our autumn collection is here &zwnj;&nbsp;&zwnj;&nbsp;&zwnj;&nbsp;</div>
<table role="presentation" width="100%" bgcolor="#f4f4f4"><tr><td align="center">
  <table width="600" bgcolor="#ffffff"><tr><td style="padding:20px;font-family:Arial;color:#333333">
    <h1 style="font-size:24px">Autumn sale</h1>
    <p>Dear customer, enjoy 20% off all coats this week.</p>
    <a class="btn" href="https://shop.example.com/autumn?utm_source=news" style="color:#ffffff">Shop the sale</a>
  </td></tr></table>
  <p style="font-size:11px;color:#999999">You receive this because you subscribed. <a href="https://shop.example.com/unsubscribe">Unsubscribe</a></p>
</td></tr></table>
<img src="https://shop.example.com/o.gif" width="1" height="1" alt="">
</body></html>)";
  auto html = extract_html(newsletter);
  EXPECT_EQ(html.visible_text,
            "Autumn sale\nDear customer, enjoy 20% off all coats this week.\nShop the sale\n"
            "You receive this because you subscribed. Unsubscribe");
  EXPECT_EQ(html.hidden_text, "Our autumn collection is here");
  EXPECT_EQ(html.split_words, 0u);
  ASSERT_EQ(html.links.size(), 2u);
  EXPECT_EQ(html.links[0].text, "Shop the sale");
  EXPECT_EQ(html.links[1].text, "Unsubscribe");
  EXPECT_EQ(html.remote_images, 1u);
}

TEST(Html, BrokenMarkupIsReadAsBrowsersDo) {
  auto html = extract_html("<p>unclosed <b>bold <i>both</b> italic? <a href=x>link <p>para</a> </tabl> &bogus; <");
  EXPECT_FALSE(html.visible_text.empty());
  EXPECT_NE(html.visible_text.find("unclosed bold both italic?"), std::string::npos);
  EXPECT_NE(html.visible_text.find("&bogus;"), std::string::npos);
  EXPECT_GE(html.links.size(), 1u);
}

TEST(Html, EmptyInputIsNotParsed) {
  EXPECT_FALSE(extract_html("").parsed);
  EXPECT_FALSE(extract_html(" \r\n").parsed);
  EXPECT_TRUE(extract_html("x").parsed);
}

TEST(Html, ReasonableNestingAndUnclosedParagraphsAreReadWhole) {
  // 40 nested tables (80 levels of table, tr, td), a thousand paragraphs never closed, a script full
  // of "<b": none of it counts towards the nesting limit.
  std::string html = "<script>if (a<b && c<div) {}</script>";
  for (int i = 0; i < 40; ++i) html += "<table><tr><td>";
  for (int i = 0; i < 1000; ++i) html += "<p>para";
  html += "<p>bottom";
  for (int i = 0; i < 40; ++i) html += "</td></tr></table>";
  auto content = extract_html(html);
  EXPECT_FALSE(content.truncated);
  EXPECT_NE(content.visible_text.find("bottom"), std::string::npos);
}

TEST(Html, LimitsBoundDepthTagsAndText) {
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "<div>";
  deep += "bottom";
  HtmlLimits limits;
  limits.max_depth = 50;
  auto html = extract_html(deep, limits);
  EXPECT_TRUE(html.truncated);
  EXPECT_EQ(html.visible_text.find("bottom"), std::string::npos);

  std::string many;
  for (int i = 0; i < 3000; ++i) many += "<a href=\"http://h" + std::to_string(i) + ".example.com/\">x</a>";
  limits = HtmlLimits{};
  limits.max_tags = 1000;
  html = extract_html(many, limits);
  EXPECT_TRUE(html.truncated);
  EXPECT_LE(html.links.size(), 1000u);

  limits = HtmlLimits{};
  limits.max_text_bytes = 100;
  html = extract_html("<p>" + std::string(1000, 'a') + "</p>", limits);
  EXPECT_TRUE(html.truncated);
  EXPECT_LE(html.visible_text.size(), 100u);
}

}  // namespace
}  // namespace gatehouse::content
