<?xml version="1.0" encoding="UTF-8"?>
<!--
  feed.xsl: shows an Atom or RSS 2.0 document as a readable page in a browser.
  Feed readers ignore it. One stylesheet for both: the template matches the root element.
  Inline styles only (no external assets), light and dark. In the feed's language: French
  when it is French (or says none), English otherwise.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    exclude-result-prefixes="atom">

  <xsl:output method="html" encoding="UTF-8" indent="no" doctype-system="about:legacy-compat"/>

  <xsl:variable name="language" select="translate(string(/atom:feed/@xml:lang | /rss/channel/language), 'FR', 'fr')"/>
  <xsl:variable name="fr" select="$language = '' or starts-with($language, 'fr')"/>
  <xsl:variable name="months">01janvier 02février 03mars 04avril 05mai 06juin 07juillet 08août 09septembre 10octobre 11novembre 12décembre </xsl:variable>
  <xsl:variable name="months-en">01January 02February 03March 04April 05May 06June 07July 08August 09September 10October 11November 12December </xsl:variable>
  <xsl:variable name="rfc822">Jan01Feb02Mar03Apr04May05Jun06Jul07Aug08Sep09Oct10Nov11Dec12</xsl:variable>

  <!-- Atom 1.0 -->
  <xsl:template match="/atom:feed">
    <xsl:call-template name="page">
      <xsl:with-param name="kind" select="'Atom'"/>
      <xsl:with-param name="title" select="atom:title"/>
      <xsl:with-param name="subtitle" select="atom:subtitle"/>
      <xsl:with-param name="self" select="atom:link[@rel='self']/@href"/>
      <xsl:with-param name="home" select="atom:link[@rel='alternate' or not(@rel)][1]/@href"/>
      <xsl:with-param name="lang" select="@xml:lang"/>
      <xsl:with-param name="links" select="atom:link"/>
      <xsl:with-param name="count" select="count(atom:entry)"/>
    </xsl:call-template>
  </xsl:template>

  <!-- RSS 2.0 -->
  <xsl:template match="/rss">
    <xsl:call-template name="page">
      <xsl:with-param name="kind" select="'RSS'"/>
      <xsl:with-param name="title" select="channel/title"/>
      <xsl:with-param name="subtitle" select="channel/description"/>
      <xsl:with-param name="self" select="channel/atom:link[@rel='self']/@href"/>
      <xsl:with-param name="home" select="channel/link"/>
      <xsl:with-param name="lang" select="channel/language"/>
      <xsl:with-param name="links" select="channel/atom:link"/>
      <xsl:with-param name="count" select="count(channel/item)"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="page">
    <xsl:param name="kind"/>
    <xsl:param name="title"/>
    <xsl:param name="subtitle"/>
    <xsl:param name="self"/>
    <xsl:param name="home"/>
    <xsl:param name="lang"/>
    <xsl:param name="links"/>
    <xsl:param name="count"/>
    <html lang="{$lang}">
      <xsl:if test="not($lang)"><xsl:attribute name="lang">fr</xsl:attribute></xsl:if>
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="color-scheme" content="light dark"/>
        <meta name="robots" content="noindex"/>
        <title><xsl:value-of select="$title"/> · <xsl:choose><xsl:when test="$fr">flux <xsl:value-of select="$kind"/></xsl:when><xsl:otherwise><xsl:value-of select="$kind"/> feed</xsl:otherwise></xsl:choose></title>
        <link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='8' fill='%23b4231b'/%3E%3Cpath d='M9 10h14M9 16h14M9 22h9' stroke='%23fff' stroke-width='3' stroke-linecap='round'/%3E%3C/svg%3E"/>
        <style><![CDATA[
:root { --bg:#fbfaf7; --surface:#fff; --fg:#1b1b1f; --text:#2a2a30; --muted:#5c5c66; --accent:#b4231b; --soft:#fbe9e7; --rule:#e6e2da;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial, sans-serif;
  --serif: "Iowan Old Style", Charter, "Bitstream Charter", "Sitka Text", Cambria, "Noto Serif", Georgia, "DejaVu Serif", serif;
  --mono: ui-monospace, "SF Mono", Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono", monospace; color-scheme: light dark; }
@media (prefers-color-scheme: dark) { :root { --bg:#141417; --surface:#1c1c21; --fg:#f0f0f3; --text:#dcdce2; --muted:#a2a2ad; --accent:#ff8a7a; --soft:#2b1d1c; --rule:#2c2c33; } }
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--text); font: 1.0625rem/1.6 var(--sans); border-top: 4px solid var(--accent); -webkit-font-smoothing: antialiased; }
.wrap { max-width: 46rem; margin: 0 auto; padding: clamp(1.25rem, 4vw, 2.5rem) clamp(1.25rem, 4vw, 2rem) 3rem; }
a { color: var(--accent); text-underline-offset: .15em; }
.notice { display: flex; gap: .9rem; align-items: flex-start; padding: 1rem 1.15rem; margin-bottom: 2rem; background: var(--soft); border: 1px solid color-mix(in srgb, var(--accent) 35%, transparent); border-radius: 12px; color: var(--fg); }
.notice svg { flex: none; width: 1.6rem; height: 1.6rem; margin-top: .1rem; color: var(--accent); }
.notice p { margin: 0 0 .5rem; font-size: .95rem; }
.notice p:last-child { margin: 0; }
.notice strong { font-weight: 700; }
.url { display: block; margin-top: .35rem; padding: .45rem .65rem; background: var(--surface); border: 1px solid var(--rule); border-radius: 8px; font: .82rem/1.4 var(--mono); color: var(--fg); overflow-wrap: anywhere; user-select: all; -webkit-user-select: all; cursor: text; }
.label { margin: 0 0 .4rem; font-size: .78rem; font-weight: 650; letter-spacing: .07em; text-transform: uppercase; color: var(--muted); }
.badge { display: inline-block; padding: .05rem .5rem; margin-left: .35rem; border-radius: 999px; background: var(--accent); color: var(--bg); font-size: .7rem; letter-spacing: .06em; vertical-align: .12em; }
h1 { margin: 0 0 .5rem; color: var(--fg); font-size: clamp(1.9rem, 6.5vw, 2.7rem); line-height: 1.1; letter-spacing: -.03em; font-weight: 800; }
.subtitle { margin: 0 0 1rem; color: var(--muted); font-size: 1.05rem; }
.home { margin: 0; font-size: .95rem; font-weight: 600; }
.home a { text-decoration: none; }
header { padding-bottom: 1.5rem; border-bottom: 3px solid var(--fg); }
ol { list-style: none; margin: 0; padding: 0; }
li { padding: 1.5rem 0; border-bottom: 1px solid var(--rule); }
.meta { margin: 0 0 .35rem; font-size: .78rem; font-weight: 600; letter-spacing: .05em; text-transform: uppercase; color: var(--muted); }
.meta .cat { color: var(--accent); }
h2 { margin: 0 0 .45rem; font-size: clamp(1.2rem, 3.6vw, 1.4rem); line-height: 1.25; letter-spacing: -.015em; font-weight: 750; }
h2 a { color: var(--fg); text-decoration: none; }
h2 a:hover { color: var(--accent); }
.summary { margin: 0; font-family: var(--serif); line-height: 1.6; }
.count { margin: 1.5rem 0 0; font-size: .85rem; color: var(--muted); }
nav { display: flex; flex-wrap: wrap; gap: .75rem; margin-top: 1.75rem; font-size: .9rem; }
nav a { padding: .5rem 1rem; border: 1px solid var(--rule); border-radius: 999px; color: var(--fg); text-decoration: none; font-weight: 600; }
nav a:hover { border-color: var(--accent); color: var(--accent); }
]]></style>
      </head>
      <body>
        <div class="wrap">
          <aside class="notice">
            <xsl:attribute name="aria-label"><xsl:choose><xsl:when test="$fr">À propos de cette page</xsl:when><xsl:otherwise>About this page</xsl:otherwise></xsl:choose></xsl:attribute>
            <svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="5" cy="19" r="2.2" fill="currentColor"/><path d="M3 11a10 10 0 0 1 10 10M3 4a17 17 0 0 1 17 17" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linecap="round"/></svg>
            <div>
              <xsl:choose>
                <xsl:when test="$fr"><p><strong>Ceci est un flux <xsl:value-of select="$kind"/>.</strong> Abonnez-vous en copiant son adresse dans votre lecteur de flux (NetNewsWire, Thunderbird, Miniflux, Feedly…) : les nouveaux articles y arriveront d’eux-mêmes, sans compte ni publicité.</p></xsl:when>
                <xsl:otherwise><p><strong>This is an <xsl:value-of select="$kind"/> feed.</strong> Subscribe by copying its address into your feed reader (NetNewsWire, Thunderbird, Miniflux, Feedly…): new articles will arrive there by themselves, with no account and no ads.</p></xsl:otherwise>
              </xsl:choose>
              <xsl:if test="$self">
                <p><xsl:choose><xsl:when test="$fr">Adresse du flux :</xsl:when><xsl:otherwise>Feed address:</xsl:otherwise></xsl:choose><span class="url"><xsl:value-of select="$self"/></span></p>
              </xsl:if>
            </div>
          </aside>
          <header>
            <p class="label"><xsl:choose><xsl:when test="$fr">Flux</xsl:when><xsl:otherwise>Feed</xsl:otherwise></xsl:choose><span class="badge"><xsl:value-of select="$kind"/></span></p>
            <h1><xsl:value-of select="$title"/></h1>
            <xsl:if test="string($subtitle) and string($subtitle) != string($title)">
              <p class="subtitle"><xsl:value-of select="$subtitle"/></p>
            </xsl:if>
            <xsl:if test="$home">
              <p class="home"><a href="{$home}"><xsl:choose><xsl:when test="$fr">Visiter le site</xsl:when><xsl:otherwise>Visit the site</xsl:otherwise></xsl:choose><xsl:text> </xsl:text><span aria-hidden="true">→</span></a></p>
            </xsl:if>
          </header>
          <main>
            <ol>
              <xsl:apply-templates select="atom:entry | channel/item"/>
            </ol>
            <p class="count">
              <xsl:value-of select="$count"/>
              <xsl:choose><xsl:when test="$count = 1"> article</xsl:when><xsl:otherwise> articles</xsl:otherwise></xsl:choose>
              <xsl:text> </xsl:text><xsl:choose><xsl:when test="$fr">dans ce document.</xsl:when><xsl:otherwise>in this document.</xsl:otherwise></xsl:choose>
            </p>
            <xsl:if test="$links[@rel='prev-archive' or @rel='next-archive' or @rel='current']">
              <nav>
                <xsl:attribute name="aria-label"><xsl:choose><xsl:when test="$fr">Archives du flux</xsl:when><xsl:otherwise>Feed archives</xsl:otherwise></xsl:choose></xsl:attribute>
                <xsl:if test="$links[@rel='current']">
                  <a href="{$links[@rel='current']/@href}">← <xsl:choose><xsl:when test="$fr">Articles récents</xsl:when><xsl:otherwise>Latest articles</xsl:otherwise></xsl:choose></a>
                </xsl:if>
                <xsl:if test="$links[@rel='next-archive']">
                  <a href="{$links[@rel='next-archive']/@href}">← <xsl:choose><xsl:when test="$fr">Archive suivante</xsl:when><xsl:otherwise>Newer archive</xsl:otherwise></xsl:choose></a>
                </xsl:if>
                <xsl:if test="$links[@rel='prev-archive']">
                  <a href="{$links[@rel='prev-archive']/@href}"><xsl:choose><xsl:when test="$fr">Articles plus anciens</xsl:when><xsl:otherwise>Older articles</xsl:otherwise></xsl:choose> →</a>
                </xsl:if>
              </nav>
            </xsl:if>
          </main>
        </div>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="atom:entry">
    <li>
      <p class="meta">
        <xsl:if test="atom:category">
          <span class="cat"><xsl:value-of select="atom:category[1]/@term"/></span> ·
        </xsl:if>
        <xsl:call-template name="iso-date">
          <xsl:with-param name="d" select="atom:published | atom:updated[not(../atom:published)]"/>
        </xsl:call-template>
      </p>
      <h2>
        <a href="{(atom:link[@rel='alternate' or not(@rel)])[1]/@href}"><xsl:value-of select="atom:title"/></a>
      </h2>
      <xsl:if test="atom:summary">
        <p class="summary"><xsl:value-of select="atom:summary"/></p>
      </xsl:if>
    </li>
  </xsl:template>

  <xsl:template match="item">
    <li>
      <p class="meta">
        <xsl:if test="category">
          <span class="cat"><xsl:value-of select="category[1]"/></span> ·
        </xsl:if>
        <xsl:call-template name="rfc822-date">
          <xsl:with-param name="d" select="normalize-space(pubDate)"/>
        </xsl:call-template>
      </p>
      <h2>
        <a href="{link}"><xsl:value-of select="title"/></a>
      </h2>
      <xsl:if test="description">
        <p class="summary"><xsl:value-of select="description"/></p>
      </xsl:if>
    </li>
  </xsl:template>

  <!-- 2024-11-02T08:00:00+01:00 -> <time>2 novembre 2024</time>, or November 2, 2024 -->
  <xsl:template name="iso-date">
    <xsl:param name="d"/>
    <xsl:if test="string-length($d) &gt;= 10">
      <time datetime="{$d}">
        <xsl:call-template name="day-month-year">
          <xsl:with-param name="day" select="substring($d, 9, 2)"/>
          <xsl:with-param name="mm" select="substring($d, 6, 2)"/>
          <xsl:with-param name="year" select="substring($d, 1, 4)"/>
        </xsl:call-template>
      </time>
    </xsl:if>
  </xsl:template>

  <!-- The date as the site's pages write it: "2 novembre 2024", "1er novembre 2024",
       "November 2, 2024". -->
  <xsl:template name="day-month-year">
    <xsl:param name="day"/>
    <xsl:param name="mm"/>
    <xsl:param name="year"/>
    <xsl:choose>
      <xsl:when test="$fr">
        <xsl:value-of select="number($day)"/>
        <xsl:if test="number($day) = 1">er</xsl:if>
        <xsl:value-of select="concat(' ', substring-before(substring-after($months, $mm), ' '), ' ', $year)"/>
      </xsl:when>
      <xsl:otherwise>
        <xsl:value-of select="concat(substring-before(substring-after($months-en, $mm), ' '), ' ', number($day), ', ', $year)"/>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- Sat, 02 Nov 2024 08:00:00 +0100 -> 2 novembre 2024, or November 2, 2024 (the weekday is optional) -->
  <xsl:template name="rfc822-date">
    <xsl:param name="d"/>
    <xsl:variable name="s">
      <xsl:choose>
        <xsl:when test="contains($d, ',')"><xsl:value-of select="normalize-space(substring-after($d, ','))"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="$d"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="day" select="substring-before($s, ' ')"/>
    <xsl:variable name="rest" select="substring-after($s, ' ')"/>
    <xsl:variable name="mon" select="substring-before($rest, ' ')"/>
    <xsl:variable name="year" select="substring(substring-after($rest, ' '), 1, 4)"/>
    <xsl:variable name="mm" select="substring(substring-after($rfc822, $mon), 1, 2)"/>
    <xsl:choose>
      <xsl:when test="string-length($mon) = 3 and string-length($mm) = 2 and number($day) = number($day)">
        <time>
          <xsl:call-template name="day-month-year">
            <xsl:with-param name="day" select="$day"/>
            <xsl:with-param name="mm" select="$mm"/>
            <xsl:with-param name="year" select="$year"/>
          </xsl:call-template>
        </time>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$d"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

</xsl:stylesheet>
