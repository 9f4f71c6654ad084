//! A [`Scene`] as SVG (laid out by [`super::layout`]) and as a self-contained HTML page.

use super::layout::{layout, Size};
use super::scene::{Scene, Shape};
use std::fmt::Write;

const CHAR_W: f64 = 6.8;
const LINE_H: f64 = 14.0;
const FONT: &str = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";

fn size(lines: &[String], shape: Shape) -> Size {
    let chars = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
    match shape {
        Shape::Box => Size { w: chars * CHAR_W + 18.0, h: lines.len() as f64 * LINE_H + 10.0 },
        Shape::Ellipse => Size { w: chars * CHAR_W + 30.0, h: 30.0 },
    }
}

/// Escapes text for XML content and attribute values.
pub(crate) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn f(v: f64) -> String {
    format!("{v:.1}")
}

pub(crate) fn render(scene: &Scene) -> String {
    let sizes: Vec<Size> = scene.nodes.iter().map(|n| size(&n.lines, n.shape)).collect();
    let edges: Vec<(usize, usize, bool)> = scene.edges.iter().map(|e| (e.from, e.to, e.dashed)).collect();
    let lay = layout(&sizes, &edges);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"nabla-graph\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"{FONT}\" font-size=\"11\">",
        w = f(lay.width),
        h = f(lay.height)
    );
    out.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" \
         orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#4b5563\"/></marker></defs>\n",
    );
    out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
    for (name, members) in &scene.clusters {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
        for &m in members {
            let (cx, cy) = lay.centers[m];
            x0 = x0.min(cx - sizes[m].w / 2.0);
            x1 = x1.max(cx + sizes[m].w / 2.0);
            y0 = y0.min(cy - sizes[m].h / 2.0);
            y1 = y1.max(cy + sizes[m].h / 2.0);
        }
        let _ = writeln!(
            out,
            "<g class=\"cluster\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"8\" fill=\"none\" stroke=\"#9ca3af\" stroke-dasharray=\"4 3\"/><text x=\"{}\" y=\"{}\" fill=\"#6b7280\">{}</text></g>",
            f(x0 - 8.0),
            f(y0 - 8.0),
            f(x1 - x0 + 16.0),
            f(y1 - y0 + 16.0),
            f(x0 - 4.0),
            f(y0 - 11.0),
            xml(name)
        );
    }
    for (e, pts) in scene.edges.iter().zip(&lay.edges) {
        let mut d = format!("M{},{}", f(pts[0].0), f(pts[0].1));
        for w in pts.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            let mx = (x0 + x1) / 2.0;
            let _ = write!(d, " C{},{} {},{} {},{}", f(mx), f(y0), f(mx), f(y1), f(x1), f(y1));
        }
        let style =
            if e.dashed { "stroke-dasharray=\"4 3\"".to_string() } else { "marker-end=\"url(#arrow)\"".to_string() };
        let _ = writeln!(
            out,
            "<path class=\"edge\" data-from=\"{}\" data-to=\"{}\" d=\"{d}\" fill=\"none\" stroke=\"#4b5563\" {style}/>",
            scene.nodes[e.from].id, scene.nodes[e.to].id
        );
        if let Some(l) = &e.label {
            // on the last curve, a quarter of the way before its end
            let ((x0, y0), (x1, y1)) = (pts[pts.len() - 2], pts[pts.len() - 1]);
            let t: f64 = 0.75;
            let mx = (x0 + x1) / 2.0;
            let (u, v) = ((1.0 - t).powi(3) + 3.0 * (1.0 - t).powi(2) * t, 3.0 * (1.0 - t) * t * t + t.powi(3));
            let bx =
                (1.0 - t).powi(3) * x0 + (3.0 * (1.0 - t).powi(2) * t + 3.0 * (1.0 - t) * t * t) * mx + t.powi(3) * x1;
            let by = u * y0 + v * y1;
            let _ = writeln!(
                out,
                "<text class=\"edge-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#6b7280\">{}</text>",
                f(bx - 2.0),
                f(by - 3.0),
                xml(l)
            );
        }
    }
    for (i, n) in scene.nodes.iter().enumerate() {
        let (cx, cy) = lay.centers[i];
        let s = sizes[i];
        let kind = match n.shape {
            Shape::Box => "tensor",
            Shape::Ellipse => "function",
        };
        let detail =
            n.detail.iter().map(|(k, v)| format!("[{},{}]", json_str(k), json_str(v))).collect::<Vec<_>>().join(",");
        let _ =
            writeln!(out, "<g class=\"node {kind}\" id=\"{}\" data-detail=\"{}\">", n.id, xml(&format!("[{detail}]")));
        let title: Vec<String> = n.detail.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let _ = writeln!(out, "<title>{}</title>", xml(&title.join("\n")));
        let (stroke, width) = if n.current { ("#dc2626", 2.5) } else { ("#374151", 1.0) };
        match n.shape {
            Shape::Box => {
                let _ = writeln!(
                    out,
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\" fill=\"{}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>",
                    f(cx - s.w / 2.0),
                    f(cy - s.h / 2.0),
                    f(s.w),
                    f(s.h),
                    n.fill
                );
                if n.double {
                    let _ = writeln!(
                        out,
                        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"4\" fill=\"none\" stroke=\"{stroke}\"/>",
                        f(cx - s.w / 2.0 + 3.0),
                        f(cy - s.h / 2.0 + 3.0),
                        f(s.w - 6.0),
                        f(s.h - 6.0)
                    );
                }
            }
            Shape::Ellipse => {
                let _ = writeln!(
                    out,
                    "<ellipse cx=\"{}\" cy=\"{}\" rx=\"{}\" ry=\"{}\" fill=\"{}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>",
                    f(cx),
                    f(cy),
                    f(s.w / 2.0),
                    f(s.h / 2.0),
                    n.fill
                );
            }
        }
        let top = cy - (n.lines.len() as f64 - 1.0) * LINE_H / 2.0 + 4.0;
        for (k, line) in n.lines.iter().enumerate() {
            // a box's title is centred and bold; its other lines (values) are left-aligned
            let (x, attrs) = match n.shape {
                Shape::Box if k == 0 => (cx, " text-anchor=\"middle\" font-weight=\"bold\""),
                Shape::Box => (cx - s.w / 2.0 + 9.0, ""),
                Shape::Ellipse => (cx, " text-anchor=\"middle\""),
            };
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" fill=\"#111827\"{attrs} xml:space=\"preserve\">{}</text>",
                f(x),
                f(top + k as f64 * LINE_H),
                xml(line)
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    out
}

const PAGE_STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;display:flex;gap:16px;padding:16px}\
#graph{overflow:auto;border:1px solid #e5e7eb;border-radius:8px;flex:1}\
#panel{width:320px;font-size:13px}#panel table{border-collapse:collapse;width:100%}\
#panel td{border-bottom:1px solid #e5e7eb;padding:4px;vertical-align:top;word-break:break-all}\
#panel td:first-child{color:#6b7280;white-space:nowrap}\
g.node{cursor:pointer}g.node.selected rect,g.node.selected ellipse{stroke:#2563eb;stroke-width:3}\
#node-index{columns:2;padding-left:18px}#node-index a{cursor:pointer;color:#2563eb}";

const PAGE_SCRIPT: &str = r#"(function () {
  var nodes = Array.prototype.slice.call(document.querySelectorAll('g.node'));
  var title = document.getElementById('selected-title');
  var table = document.getElementById('detail');
  function show(g) {
    nodes.forEach(function (n) { n.classList.remove('selected'); });
    g.classList.add('selected');
    var rows = JSON.parse(g.getAttribute('data-detail'));
    title.textContent = rows.length ? rows[0][1] : g.id;
    while (table.firstChild) table.removeChild(table.firstChild);
    rows.forEach(function (r) {
      var tr = document.createElement('tr');
      var k = document.createElement('td'); k.textContent = r[0];
      var v = document.createElement('td'); v.textContent = r[1];
      tr.appendChild(k); tr.appendChild(v); table.appendChild(tr);
    });
    document.getElementById('panel').setAttribute('data-selected', g.id);
  }
  var index = document.getElementById('node-index');
  nodes.forEach(function (g) {
    g.addEventListener('mouseenter', function () { show(g); });
    g.addEventListener('click', function () { show(g); });
    var rows = JSON.parse(g.getAttribute('data-detail'));
    var li = document.createElement('li');
    var a = document.createElement('a');
    a.textContent = g.id + ': ' + (rows.length ? rows[0][1] : '');
    a.addEventListener('click', function () { show(g); });
    li.appendChild(a); index.appendChild(li);
  });
  var start = location.hash ? document.getElementById(location.hash.slice(1)) : null;
  if (start && start.classList.contains('node')) show(start);
})();"#;

/// A page showing the SVG, with a panel that shows a node's values and gradient when it is
/// hovered or clicked (and the node named by the URL's `#fragment` on load). No network.
pub(crate) fn page(svg: &str, title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>{PAGE_STYLE}</style>\n</head>\n<body>\n\
         <div id=\"graph\">\n{svg}</div>\n<aside id=\"panel\">\n<h2 id=\"selected-title\">{t}</h2>\n\
         <p>Hover or click a node to see its values and gradient.</p>\n<table id=\"detail\"></table>\n\
         <h3>Nodes</h3>\n<ul id=\"node-index\"></ul>\n</aside>\n<script>\n{PAGE_SCRIPT}\n</script>\n</body>\n</html>\n",
        t = xml(title)
    )
}
