//! A small layered (Sugiyama-style) layout, left to right, so that SVG needs no system
//! Graphviz: layers by longest path (sources moved next to their first use), long edges
//! split by dummy points, barycentric ordering to reduce crossings, and positions pulled
//! towards neighbours. Deterministic, and iterative throughout.

/// A node's box size in pixels.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Size {
    pub(crate) w: f64,
    pub(crate) h: f64,
}

/// Centres of the nodes, and each edge as a polyline from its source's right side to its
/// target's left side.
pub(crate) struct Layout {
    pub(crate) centers: Vec<(f64, f64)>,
    pub(crate) edges: Vec<Vec<(f64, f64)>>,
    pub(crate) width: f64,
    pub(crate) height: f64,
}

const LAYER_GAP: f64 = 56.0;
const NODE_GAP: f64 = 18.0;
const MARGIN: f64 = 16.0;
const DUMMY: Size = Size { w: 0.0, h: 6.0 };

/// Lays out `sizes.len()` nodes joined by `edges` (from, to, weak), which must form a DAG.
/// A weak edge (a leaf's link to its `AccumulateGrad`) does not pull its source leftwards.
pub(crate) fn layout(sizes: &[Size], edges: &[(usize, usize, bool)]) -> Layout {
    let n = sizes.len();
    let mut succ = vec![Vec::new(); n];
    let mut strong_succ = vec![Vec::new(); n];
    let mut pred = vec![Vec::new(); n];
    for &(a, b, weak) in edges {
        succ[a].push(b);
        if !weak {
            strong_succ[a].push(b);
        }
        pred[b].push(a);
    }
    let order = topo(n, &succ, &pred);
    // 1. layers
    let mut layer = vec![0usize; n];
    for &v in &order {
        layer[v] = pred[v].iter().map(|&p| layer[p] + 1).max().unwrap_or(0);
    }
    for &v in order.iter().rev() {
        if pred[v].is_empty() {
            let targets = if strong_succ[v].is_empty() { &succ[v] } else { &strong_succ[v] };
            if let Some(m) = targets.iter().map(|&s| layer[s]).min() {
                layer[v] = m.saturating_sub(1);
            }
        }
    }
    for &v in &order {
        if !pred[v].is_empty() {
            layer[v] = pred[v].iter().map(|&p| layer[p] + 1).max().unwrap_or(0);
        }
    }
    // 2. dummy points on long edges
    let mut sizes: Vec<Size> = sizes.to_vec();
    let mut layer_of = layer.clone();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    let mut up: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b, _) in edges {
        let mut chain = vec![a];
        let mut prev = a;
        for l in layer[a] + 1..layer[b] {
            let d = sizes.len();
            sizes.push(DUMMY);
            layer_of.push(l);
            up.push(vec![prev]);
            down.push(Vec::new());
            down[prev].push(d);
            chain.push(d);
            prev = d;
        }
        down[prev].push(b);
        up[b].push(prev);
        chain.push(b);
        chains.push(chain);
    }
    let total = sizes.len();
    let depth = layer_of.iter().copied().max().map_or(0, |m| m + 1);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); depth];
    // initial order: topological order of real nodes, dummies after the node they leave
    let mut placed = vec![false; total];
    for &v in &order {
        let mut stack = vec![v];
        while let Some(x) = stack.pop() {
            if !placed[x] {
                placed[x] = true;
                layers[layer_of[x]].push(x);
            }
            for &d in down[x].iter().rev() {
                if d >= n && !placed[d] {
                    stack.push(d);
                }
            }
        }
    }
    // 3. ordering: barycentre sweeps
    let mut pos = vec![0.0f64; total];
    let reindex = |layers: &Vec<Vec<usize>>, pos: &mut Vec<f64>| {
        for l in layers {
            for (i, &v) in l.iter().enumerate() {
                pos[v] = i as f64;
            }
        }
    };
    reindex(&layers, &mut pos);
    for sweep in 0..8 {
        let forward = sweep % 2 == 0;
        let range: Vec<usize> =
            if forward { (1..depth).collect() } else { (0..depth.saturating_sub(1)).rev().collect() };
        for l in range {
            let nbrs = if forward { &up } else { &down };
            let mut keyed: Vec<(f64, usize)> = layers[l]
                .iter()
                .map(|&v| {
                    let ns = &nbrs[v];
                    let k =
                        if ns.is_empty() { pos[v] } else { ns.iter().map(|&u| pos[u]).sum::<f64>() / ns.len() as f64 };
                    (k, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            layers[l] = keyed.into_iter().map(|(_, v)| v).collect();
            for (i, &v) in layers[l].iter().enumerate() {
                pos[v] = i as f64;
            }
        }
    }
    // 4. coordinates
    let mut xs = vec![0.0f64; total];
    let mut x = MARGIN;
    for l in &layers {
        let w = l.iter().map(|&v| sizes[v].w).fold(0.0, f64::max);
        for &v in l {
            xs[v] = x + w / 2.0;
        }
        x += w + LAYER_GAP;
    }
    let mut ys = vec![0.0f64; total];
    for l in &layers {
        let mut y = MARGIN;
        for &v in l {
            ys[v] = y + sizes[v].h / 2.0;
            y += sizes[v].h + NODE_GAP;
        }
    }
    for _ in 0..12 {
        for l in &layers {
            let want: Vec<f64> = l
                .iter()
                .map(|&v| {
                    let ns: Vec<usize> = up[v].iter().chain(down[v].iter()).copied().collect();
                    if ns.is_empty() {
                        ys[v]
                    } else {
                        ns.iter().map(|&u| ys[u]).sum::<f64>() / ns.len() as f64
                    }
                })
                .collect();
            let placed = separate(l, &want, &sizes);
            for (&v, y) in l.iter().zip(placed) {
                ys[v] = y;
            }
        }
    }
    let top = (0..total).map(|v| ys[v] - sizes[v].h / 2.0).fold(f64::INFINITY, f64::min);
    let shift = if top.is_finite() { MARGIN - top } else { 0.0 };
    ys.iter_mut().for_each(|y| *y += shift);
    let width = (0..total).map(|v| xs[v] + sizes[v].w / 2.0).fold(0.0, f64::max) + MARGIN;
    let height = (0..total).map(|v| ys[v] + sizes[v].h / 2.0).fold(0.0, f64::max) + MARGIN;
    let edges = chains
        .iter()
        .map(|c| {
            let mut pts: Vec<(f64, f64)> = Vec::with_capacity(c.len());
            for (k, &v) in c.iter().enumerate() {
                let half = sizes[v].w / 2.0;
                if k == 0 {
                    pts.push((xs[v] + half, ys[v]));
                } else if k == c.len() - 1 {
                    pts.push((xs[v] - half, ys[v]));
                } else {
                    pts.push((xs[v], ys[v]));
                }
            }
            pts
        })
        .collect();
    Layout { centers: (0..n).map(|v| (xs[v], ys[v])).collect(), edges, width, height }
}

/// Positions as close to `want` as the order and the gaps allow: each node pushed below its
/// upper neighbour, then the whole run shifted so that the average error is zero.
fn separate(l: &[usize], want: &[f64], sizes: &[Size]) -> Vec<f64> {
    let mut y: Vec<f64> = want.to_vec();
    for i in 1..l.len() {
        let min = y[i - 1] + (sizes[l[i - 1]].h + sizes[l[i]].h) / 2.0 + NODE_GAP;
        if y[i] < min {
            y[i] = min;
        }
    }
    if !l.is_empty() {
        let err = y.iter().zip(want).map(|(a, b)| a - b).sum::<f64>() / l.len() as f64;
        y.iter_mut().for_each(|v| *v -= err);
    }
    y
}

/// Kahn's algorithm; ties broken by index so the order is deterministic.
fn topo(n: usize, succ: &[Vec<usize>], pred: &[Vec<usize>]) -> Vec<usize> {
    let mut indeg: Vec<usize> = pred.iter().map(|p| p.len()).collect();
    let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(v) = ready.pop_first() {
        order.push(v);
        for &s in &succ[v] {
            indeg[s] -= 1;
            if indeg[s] == 0 {
                ready.insert(s);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_sit_next_to_their_first_use_and_weak_edges_do_not_pull_them() {
        // 0 → 1 → 2 → 3 ← 4, and 4 ⇢ 5 (weak): 4 is placed just before 3, 5 just after 4
        let s = Size { w: 10.0, h: 10.0 };
        let l = layout(&[s; 6], &[(0, 1, false), (1, 2, false), (2, 3, false), (4, 3, false), (4, 5, true)]);
        let x = |i: usize| l.centers[i].0;
        assert_eq!(x(4), x(2));
        assert_eq!(x(5), x(3));
    }

    #[test]
    fn layers_run_left_to_right_and_nodes_do_not_overlap() {
        // a → c, b → c, c → d, a → d (a long edge)
        let s = Size { w: 40.0, h: 20.0 };
        let l = layout(&[s; 4], &[(0, 2, false), (1, 2, false), (2, 3, false), (0, 3, false)]);
        let x = |i: usize| l.centers[i].0;
        assert!(x(0) < x(2) && x(1) < x(2) && x(2) < x(3));
        assert_eq!(x(0), x(1));
        let (ya, yb) = (l.centers[0].1, l.centers[1].1);
        assert!((ya - yb).abs() >= 20.0 + NODE_GAP - 1e-9);
        // the long edge passes through a dummy point
        assert_eq!(l.edges[3].len(), 3);
        assert!(l.width > x(3) && l.height > 0.0);
    }
}
