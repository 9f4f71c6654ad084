//! A [`Scene`] as Graphviz DOT text.

use super::scene::{Scene, Shape};
use std::fmt::Write;

/// Escapes a string for a double-quoted DOT string.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn node_stmt(out: &mut String, indent: &str, n: &super::scene::SNode) {
    let label = n.lines.iter().map(|l| escape(l)).collect::<Vec<_>>().join("\\n");
    let shape = match n.shape {
        Shape::Box => "box, style=\"rounded,filled\"",
        Shape::Ellipse => "ellipse, style=filled",
    };
    let mut extra = String::new();
    if n.double {
        extra.push_str(", peripheries=2");
    }
    if n.current {
        extra.push_str(", color=\"#dc2626\", penwidth=2");
    }
    let _ = writeln!(out, "{indent}{} [shape={shape}, fillcolor=\"{}\"{extra}, label=\"{label}\"];", n.id, n.fill);
}

pub(crate) fn render(scene: &Scene) -> String {
    let mut out = String::new();
    out.push_str("digraph nabla {\n");
    out.push_str("  rankdir=LR;\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    let in_cluster = |i: usize| scene.clusters.iter().any(|(_, m)| m.contains(&i));
    for (k, (name, members)) in scene.clusters.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{k} {{");
        let _ = writeln!(out, "    label=\"{}\"; style=rounded; color=\"#9ca3af\";", escape(name));
        for &i in members {
            node_stmt(&mut out, "    ", &scene.nodes[i]);
        }
        out.push_str("  }\n");
    }
    for (i, n) in scene.nodes.iter().enumerate() {
        if !in_cluster(i) {
            node_stmt(&mut out, "  ", n);
        }
    }
    for e in &scene.edges {
        let (a, b) = (&scene.nodes[e.from].id, &scene.nodes[e.to].id);
        let mut attrs = Vec::new();
        if e.dashed {
            attrs.push("style=dashed, arrowhead=none".to_string());
        }
        if let Some(l) = &e.label {
            attrs.push(format!("label=\"{}\"", escape(l)));
        }
        if attrs.is_empty() {
            let _ = writeln!(out, "  {a} -> {b};");
        } else {
            let _ = writeln!(out, "  {a} -> {b} [{}];", attrs.join(", "));
        }
    }
    out.push_str("}\n");
    out
}
