import { describe, expect, it } from "vitest";
import { BADGE_COLORS, renderBadgeSvg } from "./badge-svg.js";

/** The badge's overall width, from the root element. */
function widthOf(svg: string): number {
  const match = /^<svg [^>]*width="(\d+(?:\.\d+)?)"/.exec(svg);
  if (!match?.[1]) throw new Error(`no width on the root element: ${svg.slice(0, 80)}`);
  return Number(match[1]);
}

/** The `fill` of every `<rect>`, in order. */
function rectFills(svg: string): string[] {
  return [...svg.matchAll(/<rect [^>]*fill="([^"]+)"/g)].map((match) => match[1] ?? "");
}

describe("renderBadgeSvg", () => {
  it("draws the flat style: rounded clip, label on grey, message on its colour, gradient, shadowed text", () => {
    const svg = renderBadgeSvg({ label: "storage", message: "healthy", color: BADGE_COLORS.green });
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" /);
    expect(svg).toContain('role="img"');
    expect(svg).toContain('aria-label="storage: healthy"');
    expect(svg).toContain("<title>storage: healthy</title>");
    expect(svg).toMatch(/<clipPath id="r"><rect [^>]*rx="3"\/><\/clipPath>/);
    expect(svg).toMatch(/<linearGradient id="s"/);
    expect(rectFills(svg)).toEqual(["#555", "#4c1", "url(#s)"]);
    // Each text twice more in dark, lower and translucent: the shadow under the white text.
    expect(svg.match(/>healthy<\/text>/g)).toHaveLength(3);
    expect(svg).toMatch(
      /<g aria-hidden="true" fill="#010101">(<text [^>]*>healthy<\/text>){2}<\/g>/,
    );
    expect(svg).toMatch(/<text [^>]*fill-opacity="\.3"[^>]*>healthy<\/text>/);
    expect(svg.endsWith("</svg>")).toBe(true);
  });

  it("draws flat-square with square corners and no gradient", () => {
    const svg = renderBadgeSvg(
      { label: "storage", message: "5/6 healthy", color: BADGE_COLORS.yellow },
      "flat-square",
    );
    expect(svg).toContain("<title>storage: 5/6 healthy</title>");
    expect(svg).not.toContain("rx=");
    expect(svg).not.toContain("linearGradient");
    expect(rectFills(svg)).toEqual(["#555", "#dfb317"]);
  });

  it("escapes XML in the label and the message, everywhere they appear", () => {
    const svg = renderBadgeSvg({
      label: `a<b>&"c'`,
      message: "</text><script>alert(1)</script>",
      color: BADGE_COLORS.red,
    });
    expect(svg).not.toContain("<script>");
    expect(svg).not.toContain("<b>");
    expect(svg).toContain("<title>a&lt;b&gt;&amp;&quot;c&apos;: &lt;/text&gt;&lt;script&gt;");
    expect(svg).toContain('aria-label="a&lt;b&gt;&amp;&quot;c&apos;: &lt;/text&gt;');
    expect(svg.match(/>a&lt;b&gt;&amp;&quot;c&apos;<\/text>/g)).toHaveLength(3);
  });

  it("grows with its text, wide letters more than narrow ones", () => {
    const short = widthOf(
      renderBadgeSvg({ label: "s3", message: "ok", color: BADGE_COLORS.green }),
    );
    const longer = widthOf(
      renderBadgeSvg({ label: "s3", message: "ok ok ok", color: BADGE_COLORS.green }),
    );
    const narrow = widthOf(
      renderBadgeSvg({ label: "s3", message: "iiiiiiii", color: BADGE_COLORS.green }),
    );
    const wide = widthOf(
      renderBadgeSvg({ label: "s3", message: "WWWWWWWW", color: BADGE_COLORS.green }),
    );
    expect(longer).toBeGreaterThan(short);
    expect(wide).toBeGreaterThan(narrow + 40);
  });

  it("draws a message alone when the label is empty", () => {
    const svg = renderBadgeSvg({ label: "", message: "99.95%", color: BADGE_COLORS.green });
    expect(svg).toContain("<title>99.95%</title>");
    expect(rectFills(svg)).not.toContain("#555");
  });
});
