#!/usr/bin/env python3
"""Writes the demo feeds in config/demo/ (standard library only).

Five small sample sources for `config/demo.toml`: simplified Chinese in UTF-8 and in GBK,
traditional Chinese in Big5, English Atom and a JSON Feed. One story (a Shaanxi video
conference on 2022-01-06) is carried by three of them: twice under the same page URL
(one with tracking parameters), once in traditional script under another URL.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, text, encoding="utf-8"):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(text.encode(encoding, errors="xmlcharrefreplace"))


MEETING = ("1月6日，全省疫情防控工作视频会议在西安召开。会议要求从严从实加强隔离场所和医院管理，"
           "用心用情保障群众生活和就医，把各项防控措施落到实处。")
MEETING_TRAD = ("1月6日，全省疫情防控工作視頻會議在西安召開。會議要求從嚴從實加強隔離場所和醫院管理，"
                "用心用情保障群眾生活和就醫，把各項防控措施落到實處。")


def rss(title, link, items, prolog="UTF-8"):
    body = "".join(
        f"""
<item>
  <title>{t}</title>
  <link>{l}</link>
  <guid isPermaLink="false">{g}</guid>
  <pubDate>{d}</pubDate>
  <description><![CDATA[{desc}]]></description>
</item>""" for t, l, g, d, desc in items)
    return f"""<?xml version="1.0" encoding="{prolog}"?>
<rss version="2.0"><channel>
<title>{title}</title>
<link>{link}</link>
<description>{title}</description>{body}
</channel></rss>
"""


write("xian-daily.xml", rss("西安日报（示例）", "https://news.xian-daily.example/", [
    ("陕西召开全省疫情防控工作视频会议", "https://news.xian-daily.example/2022/0106/meeting.html", "xd-1",
     "Thu, 06 Jan 2022 21:00:00 +0800", f"<p>{MEETING}</p><p>会议还对下一阶段工作作出部署。</p>"),
    ("西安城墙景区恢复夜游", "https://news.xian-daily.example/2022/0108/wall.html", "xd-2",
     "Sat, 08 Jan 2022 19:00:00 +0800", "<p>西安城墙景区自即日起恢复夜间开放，游客需预约入园。</p>"),
    ("西安地铁调整运营时间", "https://news.xian-daily.example/2022/0109/metro.html", "xd-3",
     "Sun, 09 Jan 2022 08:00:00 +0800", "<p>西安地铁各线路运营时间调整为7时至21时。</p>"),
]))

write("qinchuan-gbk.xml", rss("秦川在线（GBK 示例）", "http://www.qinchuan.example/", [
    ("［西安］全省疫情防控工作视频会议召开",
     "http://news.xian-daily.example/2022/0106/meeting.html?utm_source=qinchuan&amp;utm_medium=rss", "qc-1",
     "2022年01月06日 22:10", f"<p>{MEETING}</p>"),
    ("咸阳发布大风蓝色预警", "http://www.qinchuan.example/news/2.html", "qc-2",
     "2022-01-07 07:30:00", "<p>咸阳市气象台发布大风蓝色预警，请注意防范。</p>"),
    ("宝鸡开通两条公交新线路", "http://www.qinchuan.example/news/3.html", "qc-3",
     "2022-01-07 10:00:00", "<p>宝鸡市新开通两条公交线路，方便市民出行。</p>"),
], prolog="GBK"), "gbk")

write("liuzhou-big5.xml", rss("柳州資訊港（Big5 示例）", "http://www.liuzhou.example/", [
    ("陝西召開全省疫情防控工作視頻會議", "http://www.liuzhou.example/a/0106.html", "lz-1",
     "Fri, 07 Jan 2022 01:30:00 GMT", f"<p>{MEETING_TRAD}</p>"),
    ("柳州螺螄粉產業園擴建", "http://www.liuzhou.example/a/0107.html", "lz-2",
     "Fri, 07 Jan 2022 03:00:00 GMT", "<p>柳州螺螄粉產業園啟動擴建，預計年底完工。</p>"),
], prolog="Big5"), "big5")

write("world.atom", """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>World Desk (sample)</title>
  <id>tag:world.example,2022:desk</id>
  <updated>2022-01-07T12:00:00Z</updated>
  <link href="https://world.example/"/>
  <entry>
    <title>Volcano eruption near Tonga disrupts communications</title>
    <id>tag:world.example,2022:tonga</id>
    <link href="https://world.example/2022/01/15/tonga"/>
    <published>2022-01-15T09:00:00Z</published>
    <updated>2022-01-15T09:00:00Z</updated>
    <content type="html">&lt;p&gt;An undersea volcano erupted near Tonga, cutting the islands' internet cable.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Shaanxi province holds epidemic video conference</title>
    <id>tag:world.example,2022:shaanxi</id>
    <link href="https://world.example/2022/01/06/shaanxi"/>
    <published>2022-01-06T15:00:00Z</published>
    <updated>2022-01-06T15:00:00Z</updated>
    <summary>Officials in Xi'an called for stricter management of quarantine sites and hospitals.</summary>
  </entry>
</feed>
""")

write("digest.json", json.dumps({
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Digest (sample JSON Feed)",
    "home_page_url": "https://digest.example/",
    "items": [
        {"id": "digest-1", "url": "https://digest.example/2022/01/10/expo",
         "title": "进博会筹备工作进入冲刺阶段", "content_html": "<p>第五届进博会各项筹备工作进入冲刺阶段。</p>",
         "date_published": "2022-01-10T09:00:00+08:00", "tags": ["会展"]},
        {"id": "digest-2", "url": "https://news.xian-daily.example/2022/0109/metro.html#top",
         "title": "西安地铁运营时间调整", "content_html": "<p>西安地铁调整运营时间。</p>",
         "date_published": "2022-01-09T09:00:00+08:00"},
    ],
}, ensure_ascii=False, indent=1))
