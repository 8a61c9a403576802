/*
 * PyMapManager map viewer, 7½ of 7: editing (issue 9).
 *
 * The edit mode of the map page, for a logged-in user with write access (the toolbar
 * app/components/edit.py is shown only to them; the server checks every write anyway).
 * Every edit is a command POSTed to the server's edit log (REST, /api/v1/maps/<owner>/<name>/
 * edits): the log is the server's, so a reload shows the unsaved edits over the saved map.
 *
 *   e                  edit mode on/off
 *   Shift+click        add a spine on the viewer's current plane, on the nearest tracing segment
 *   drag a spine       move it (in its own plane)
 *   Delete, Backspace  delete the selected spine
 *   b / n / t          bad on/off, note, user type (small dialogs)
 *   Alt+click a spine  pick a second spine (in the session before or after the selected one)
 *   c / x              connect the selected spine and the picked one / disconnect the selected
 *                      spine from the next session (from the previous one: pick it there first)
 *   Ctrl/⌘ Z, Ctrl/⌘ Shift Z (or Ctrl Y), Ctrl/⌘ S   undo, redo, save
 *
 * A change shows at once: the marker is updated here (moved, restyled, removed, a new one
 * drawn), then replaced by the server's answer (the changed sessions' annotations, set as the
 * viewer's GeoJSON data through dash_clientside.set_props) and the EDIT_VERSION store gets
 * the working copy's version, which the plot and the run strip callbacks take as an input
 * (they answer from the working copy).
 *
 * The plot shows it at once too: its points are kept as a model of the server's last figure
 * (PmmEditLogic.plotModel) and the edits not yet in a figure from the server are applied to
 * it as app/figures/mapplot.map_plot would draw them (bad: the point left out, or drawn as a
 * cross with "include bad"; its run's neighbours re-coded; delete: the point gone; from the
 * server's answer: the changed sessions, and for add, connect and disconnect the runs
 * numbered as the server numbers them, before its figure is made). The new points are
 * painted in the key's frame by the plot's WebGL scene itself (quickDraw: Plotly.restyle
 * spends ~80 ms of script on 6,000 points before it draws), then the plot's own traces are
 * restyled (Plotly.restyle, addTraces/deleteTraces for a colour group that appears or
 * goes) for hover and click. The server's figure, when it lands, replaces them; the edits made
 * since it was asked for are applied over it again. What cannot be known here (a statistic
 * the annotations lack, the run numbers after a delete or an undo/redo of a link or an
 * add) waits for the server's figure; until it lands a deleted spine's point is gone but
 * the other points keep their old run numbers.
 *
 * Timings: pmm:edit-<op> (key/click to the frame with the marker updated), pmm:edit-server
 * (to the frame with the server's answer drawn), pmm:edit-plot (to the plot showing it:
 * restyled here, else the server's figure), pmm:edit-plot-server (to the server's figure).
 *
 * The first part (PmmEditLogic) is pure and runs under node (tests/js/edit.test.js).
 */
(function (root, factory) {
    "use strict";
    var api = factory();
    if (typeof module === "object" && module.exports) { module.exports = api; }
    if (root) { root.PmmEditLogic = api; }
}(typeof globalThis !== "undefined" ? globalThis : this, function () {
    "use strict";

    function isNum(v) { return typeof v === "number" && isFinite(v); }

    // squared distance from (px, py) to the segment (ax, ay)-(bx, by)
    function dist2(px, py, ax, ay, bx, by) {
        var dx = bx - ax, dy = by - ay;
        var len = dx * dx + dy * dy;
        var t = len > 0 ? ((px - ax) * dx + (py - ay) * dy) / len : 0;
        t = Math.max(0, Math.min(1, t));
        var x = ax + t * dx - px, y = ay + t * dy - py;
        return x * x + y * y;
    }

    /**
     * The map segment whose tracing passes nearest to (x, y) µm in the plane:
     * {segment, distance} or null when the session has no tracing. `tracing` is the
     * payload of GET .../sessions/<s>/tracing ({segments: [{segment, x_um, y_um}]}).
     */
    function nearestSegment(tracing, x, y) {
        var best = null;
        ((tracing && tracing.segments) || []).forEach(function (seg) {
            var xs = seg.x_um || [], ys = seg.y_um || [];
            if (!isNum(seg.segment)) { return; }
            var n = Math.min(xs.length, ys.length);
            for (var i = 0; i < n; i++) {
                if (!isNum(xs[i]) || !isNum(ys[i])) { continue; }
                var j = i + 1 < n && isNum(xs[i + 1]) && isNum(ys[i + 1]) ? i + 1 : i;
                var d = dist2(x, y, xs[i], ys[i], xs[j], ys[j]);
                if (!best || d < best.d) { best = {segment: seg.segment, d: d}; }
            }
        });
        return best ? {segment: best.segment, distance: Math.sqrt(best.d)} : null;
    }

    /** The segment of the spine nearest to (x, y) µm (a session without tracing), or null. */
    function nearestSpineSegment(ann, x, y) {
        var best = null;
        ((ann && ann.objects) || []).forEach(function (o) {
            if (!isNum(o.segment) || !isNum(o.x_um) || !isNum(o.y_um)) { return; }
            var d = (o.x_um - x) * (o.x_um - x) + (o.y_um - y) * (o.y_um - y);
            if (!best || d < best.d) { best = {segment: o.segment, d: d}; }
        });
        return best ? best.segment : null;
    }

    /** The voxel size [dx, dy] (µm per pixel) of an annotations payload ([1, 1] unknown). */
    function voxel(ann) {
        var v = (ann && ann.voxel) || [];
        var dx = isNum(v[0]) && v[0] > 0 ? v[0] : 1;
        var dy = isNum(v[1]) && v[1] > 0 ? v[1] : 1;
        return [dx, dy];
    }

    function round(v, n) { var f = Math.pow(10, n); return Math.round(v * f) / f; }

    /**
     * The viewer's GeoJSON of a session (as app.services.viewer.spine_layer makes it) from
     * an annotations payload; `ghosts` (features with ghost: true) are kept for the runs
     * that have no object in the session.
     */
    function featuresOf(ann, ghosts) {
        var vx = voxel(ann);
        var features = [];
        var seen = {};
        ((ann && ann.objects) || []).forEach(function (o) {
            var x = isNum(o.x_px) ? o.x_px : (isNum(o.x_um) ? o.x_um / vx[0] : null);
            var y = isNum(o.y_px) ? o.y_px : (isNum(o.y_um) ? o.y_um / vx[1] : null);
            if (x === null || y === null) { return; }
            if (isNum(o.run)) { seen[o.run] = true; }
            features.push({
                type: "Feature",
                geometry: {type: "Point", coordinates: [round(x, 2), round(-y, 2)]},
                properties: {
                    run: isNum(o.run) ? o.run : null, row: o.row, z: isNum(o.z) ? o.z : null,
                    dyn: isNum(o.dynamics) ? o.dynamics : null, bad: !!o.isBad,
                    seg: isNum(o.segment) ? o.segment : null,
                    pDist: isNum(o.pDist) ? round(o.pDist, 3) : null, ghost: false
                }
            });
        });
        (ghosts || []).forEach(function (g) {
            var p = g && g.properties;
            if (p && p.ghost && !seen[p.run]) { features.push(g); }
        });
        return {type: "FeatureCollection", features: features};
    }

    /**
     * The connect command of two picked objects {session, row} in neighbouring sessions
     * (either order): {op: "connect", session, row, to_row}; throws an Error saying why not.
     */
    function connectCommand(a, b) {
        if (!a || !b) { throw new Error("Select a spine, then Alt+click its partner in the session before or after."); }
        if (Math.abs(a.session - b.session) !== 1) {
            throw new Error("Connect links a spine to one in the next or the previous session (picked: sessions " +
                a.session + " and " + b.session + ").");
        }
        var lo = a.session < b.session ? a : b;
        var hi = lo === a ? b : a;
        return {op: "connect", session: lo.session, row: lo.row, to_row: hi.row};
    }

    /** The disconnect command: from the next session, or from the previous one when `pick` is there. */
    function disconnectCommand(sel, pick) {
        if (!sel) { throw new Error("Select a spine first."); }
        if (pick && pick.session === sel.session - 1) { return {op: "disconnect", session: pick.session, row: pick.row}; }
        return {op: "disconnect", session: sel.session, row: sel.row};
    }

    /** "just now", "40 s", "12 min", "3 h", "2 d" since an ISO time. */
    function age(iso, nowMs) {
        if (!iso) { return ""; }
        var t = Date.parse(iso);
        if (!isFinite(t)) { return ""; }
        var s = Math.max(0, Math.round(((isNum(nowMs) ? nowMs : Date.now()) - t) / 1000));
        if (s < 10) { return "just now"; }
        if (s < 60) { return s + " s"; }
        if (s < 3600) { return Math.floor(s / 60) + " min"; }
        if (s < 86400) { return Math.floor(s / 3600) + " h"; }
        return Math.floor(s / 86400) + " d";
    }

    /** The unsaved indicator's text. */
    function unsavedText(n, oldest, nowMs) {
        if (!n) { return "no unsaved changes"; }
        var a = age(oldest, nowMs);
        return n + " unsaved change" + (n === 1 ? "" : "s") + (a ? " · oldest " + (a === "just now" ? a : a + " ago") : "");
    }

    /** Who else edits the map: "alice (3 unsaved, 5 min)"; "" when nobody. */
    function othersText(others, nowMs) {
        var list = (others || []).filter(function (o) { return o && o.unsaved > 0; });
        if (!list.length) { return ""; }
        return "Also editing: " + list.map(function (o) {
            var a = age(o.since, nowMs);
            return o.user + " (" + o.unsaved + " unsaved" + (a ? ", " + a : "") + ")";
        }).join(", ");
    }

    /** "session 2 row 17, session 3 row 4" of [[session, row], ...]. */
    function objectsText(objects) {
        return (objects || []).map(function (o) { return "session " + o[0] + " row " + o[1]; }).join(", ");
    }

    /** The shortcut of a key event with Ctrl or ⌘: "undo", "redo", "save" or null. */
    function shortcut(e) {
        if (!(e.ctrlKey || e.metaKey) || e.altKey) { return null; }
        var k = String(e.key || "").toLowerCase();
        if (k === "z") { return e.shiftKey ? "redo" : "undo"; }
        if (k === "y" && !e.shiftKey) { return "redo"; }
        if (k === "s" && !e.shiftKey) { return "save"; }
        return null;
    }

    /** A user type from the dialog's text: an integer 0..99, or null. */
    function parseUserType(text) {
        var t = String(text === undefined || text === null ? "" : text).trim();
        if (!/^\d{1,2}$/.test(t)) { return null; }
        return parseInt(t, 10);
    }

    /** The rows of `after` (annotations) that `before` did not have: a spine just added. */
    function newRows(before, after) {
        var had = {};
        ((before && before.objects) || []).forEach(function (o) { had[o.row] = true; });
        return ((after && after.objects) || []).filter(function (o) { return !had[o.row]; }).map(function (o) { return o.row; });
    }

    /** The note dialog's first text: the object's note ("" without one). */
    function noteText(o) { return o && typeof o.note === "string" ? o.note : ""; }

    /** The user type dialog's first text: the object's user type as a whole number ("" unknown). */
    function userTypeText(o) {
        var v = o ? o.userType : null;
        return isNum(v) && Math.floor(v) === v ? String(v) : "";
    }

    /** The object {row, run, ...} of an annotations payload at `row`, or null. */
    function objectAt(ann, row) {
        var objs = (ann && ann.objects) || [];
        for (var i = 0; i < objs.length; i++) { if (objs[i].row === row) { return objs[i]; } }
        return null;
    }

    // ------------------------------------------------------------------ the plot, as app/figures/mapplot.py draws it

    // dynamics codes (pymapmanager.analysis) <-> the plot's trace names (DYNAMICS_LABELS)
    var DYN_CODES = {added: 1, subtracted: 2, transient: 3, persistent: 4, unknown: 0};
    var DYN_NAMES = {1: "added", 2: "subtracted", 3: "transient", 4: "persistent"};
    var SESSION_STATS = {session: true, days: true, hours: true, zdays: true};
    // statistics an annotations object carries: stat -> field
    var ANN_STATS = {x: "x_um", y: "y_um", z: "z", pDist: "pDist", userType: "userType"};

    /** The dynamics code from presence in the session before and after (analysis.dynamics). */
    function dynCode(before, after) {
        if (!before && !after) { return 3; }
        if (!before) { return 1; }
        return after ? 4 : 2;
    }

    function dynFlags(code) {
        return {before: code !== 1 && code !== 3, after: code !== 2 && code !== 3};
    }

    /** The colour group of a point trace from its name (map_plot's names), or null. */
    function groupKey(name, colorBy) {
        name = String(name === undefined || name === null ? "" : name);
        if (colorBy === "segment") {
            if (name === "no segment") { return -1; }
            var m = /^segment (\d+)$/.exec(name);
            return m ? parseInt(m[1], 10) : null;
        }
        return Object.prototype.hasOwnProperty.call(DYN_CODES, name) ? DYN_CODES[name] : null;
    }

    function ptKey(run, s) { return run + "|" + s; }

    /**
     * The points of a plot figure's traces (trace 0 the run lines, then one trace per colour
     * group, customdata [run, session]): {colorBy, line, styles: key -> trace, pts: "run|s" ->
     * {run, s, x, y, bad, key}}; null when the figure is not a map plot.
     */
    function plotModel(data, colorBy) {
        if (!data || !data.length || !data[0] || data[0].mode !== "lines") { return null; }
        var m = {colorBy: colorBy === "segment" ? "segment" : "dynamics", line: data[0], styles: {}, pts: {}};
        for (var i = 1; i < data.length; i++) {
            var t = data[i];
            var key = groupKey(t.name, m.colorBy);
            if (key === null || !t.customdata) { return null; }
            m.styles[key] = t;
            var sym = t.marker ? t.marker.symbol : null;
            for (var j = 0; j < t.customdata.length; j++) {
                var c = t.customdata[j];
                if (!c) { continue; }
                m.pts[ptKey(c[0], c[1])] = {run: c[0], s: c[1], x: t.x[j], y: t.y[j],
                    bad: (Array.isArray(sym) ? sym[j] : sym) === "x", key: key};
            }
        }
        return m;
    }

    /** A copy of a plot model whose points can be changed. */
    function cloneModel(m) {
        var pts = {};
        Object.keys(m.pts).forEach(function (k) { pts[k] = Object.assign({}, m.pts[k]); });
        return {colorBy: m.colorBy, line: m.line, styles: m.styles, pts: pts};
    }

    function nSessionsOf(opts) { return isNum(opts.nSessions) && opts.nSessions > 0 ? opts.nSessions : Infinity; }

    // the dynamics of (run, s) from its neighbours in the model (present = drawn)
    function codeAt(m, run, s, opts) {
        var n = nSessionsOf(opts);
        if (n === 1) { return 4; }
        var before = s === 0 || !!m.pts[ptKey(run, s - 1)];
        var after = s === n - 1 || !!m.pts[ptKey(run, s + 1)];
        return dynCode(before, after);
    }

    // the run's neighbours of session s now that s is `present`: their before/after flag
    function neighbours(m, run, s, present) {
        if (m.colorBy !== "dynamics") { return; }
        var prev = m.pts[ptKey(run, s - 1)], next = m.pts[ptKey(run, s + 1)];
        var f;
        if (prev) { f = dynFlags(prev.key); prev.key = dynCode(f.before, present); }
        if (next) { f = dynFlags(next.key); next.key = dynCode(present, f.after); }
    }

    // connect: run `from` (it starts in session s + 1) joins run `into` (it ends in session s),
    // the runs after `from` move down one; disconnect: run `run` is cut after session s, its
    // part from s + 1 on is the new run `to`, the runs from `to` on move up one
    function renumber(m, c) {
        var pts = {};
        var merge = c.op === "mergeRuns";
        Object.keys(m.pts).forEach(function (k) {
            var p = m.pts[k];
            if (merge) {
                if (p.run === c.from) { p.run = c.into; } else if (p.run > c.from) { p.run -= 1; }
            } else if (p.run === c.run && p.s > c.s) {
                p.run = c.to;
            } else if (p.run >= c.to && p.run !== c.run) {
                p.run += 1;
            }
            pts[ptKey(p.run, p.s)] = p;
        });
        m.pts = pts;
        if (m.colorBy !== "dynamics") { return; }
        var run = merge ? c.into : c.run;
        var a = m.pts[ptKey(run, c.s)], b = m.pts[ptKey(merge ? run : c.to, c.s + 1)];
        if (a && b) {
            var fa = dynFlags(a.key), fb = dynFlags(b.key);
            a.key = dynCode(fa.before, merge);
            b.key = dynCode(merge, fb.after);
        }
    }

    function knownKey(opts, run, s) { return opts.x + "|" + opts.y + "|" + ptKey(run, s); }

    function removePoint(m, run, s, opts) {
        var k = ptKey(run, s);
        var p = m.pts[k];
        if (!p) { return; }
        if (opts.known) { opts.known[knownKey(opts, run, s)] = {x: p.x, y: p.y}; }
        delete m.pts[k];
        neighbours(m, run, s, false);
    }

    // a statistic's value for an object of session s: the session's (any point of it), the
    // object's own (annotations), one seen before in this figure; null when unknown
    function statValue(stat, axis, m, s, obj, seen) {
        if (stat === "session") { return s; }
        if (seen && isNum(seen[axis])) { return seen[axis]; }
        if (SESSION_STATS[stat]) {
            var ks = Object.keys(m.pts);
            for (var i = 0; i < ks.length; i++) { if (m.pts[ks[i]].s === s) { return m.pts[ks[i]][axis]; } }
            return null;
        }
        var f = ANN_STATS[stat];
        return f && obj && isNum(obj[f]) ? obj[f] : null;
    }

    /** Whether the plot shows an object of the annotations at all (its segment and bad filters). */
    function plotted(obj, opts) {
        if (!obj || !isNum(obj.run)) { return false; }
        if (isNum(opts.segment) && opts.segment >= 0 && obj.segment !== opts.segment) { return false; }
        return !!opts.includeBad || !obj.isBad;
    }

    // add (or update) the point of `obj` (an annotations object of session s): false when
    // its values or its colour group are not known here
    function putPoint(m, obj, s, opts) {
        var run = obj.run, k = ptKey(run, s);
        var had = m.pts[k];
        var seen = had ? null : (opts.known && opts.known[knownKey(opts, run, s)]);
        var x = had && !ANN_STATS[opts.x] ? had.x : statValue(opts.x, "x", m, s, obj, seen);
        var y = had && !ANN_STATS[opts.y] ? had.y : statValue(opts.y, "y", m, s, obj, seen);
        if (!isNum(x) || !isNum(y)) { return false; }
        var p = had || {run: run, s: s};
        p.x = x;
        p.y = y;
        p.bad = !!obj.isBad;
        if (m.colorBy === "segment") {
            p.key = isNum(obj.segment) ? obj.segment : -1;
        } else if (!had) {
            p.key = codeAt(m, run, s, opts);
        }
        if (!m.styles[p.key] && !newStyle(m, p.key, opts)) { return false; }
        m.pts[k] = p;
        if (!had) { neighbours(m, run, s, true); }
        return true;
    }

    /**
     * Apply one edit to a plot model (changed in place), as the server's figure would show
     * it. opts: {x, y (statistics), colorBy, segment (-1 all), includeBad, roi, nSessions,
     * colors (dynamics code -> colour), known ("x|y|run|s" -> {x, y}: values seen before)}.
     * Changes: {op: "bad", run, s, bad, obj} (obj: the spine's annotations object),
     * {op: "remove", run, s}, {op: "insertRun", run} (an added spine's new run: the runs
     * from there on are numbered one up), {op: "mergeRuns", into, from, s} (connect),
     * {op: "splitRun", run, s, to} (disconnect), {op: "sync", s, ann} (the session's
     * annotations from the server, with the run numbers the model has). Returns false when the plot cannot show
     * the change exactly here (a value or a colour not known): the server's figure will.
     */
    function plotApply(m, change, opts) {
        var s = change.s;
        if (change.op === "insertRun") {
            // a run inserted at change.run: the runs from there on move up one
            var pts = {};
            Object.keys(m.pts).forEach(function (k) {
                var p = m.pts[k];
                if (p.run >= change.run) { p.run += 1; }
                pts[ptKey(p.run, p.s)] = p;
            });
            m.pts = pts;
            return true;
        }
        if (change.op === "mergeRuns" || change.op === "splitRun") {
            renumber(m, change);
            return true;
        }
        if (change.op === "remove") {
            removePoint(m, change.run, s, opts);
            return true;
        }
        if (change.op === "bad") {
            var obj = Object.assign({}, change.obj || {}, {run: change.run, isBad: !!change.bad});
            if (!plotted(Object.assign({}, obj, {isBad: false}), opts)) { return true; }
            if (opts.includeBad) {
                var p = m.pts[ptKey(change.run, s)];
                if (p) { p.bad = !!change.bad; }
                return true;
            }
            if (change.bad) { removePoint(m, change.run, s, opts); return true; }
            return putPoint(m, obj, s, opts);
        }
        if (change.op === "sync") {
            var ann = change.ann;
            if (!ann || (opts.roi && ann.roi && opts.roi !== ann.roi)) { return false; }
            // a move changes the statistics of the spine: only those the annotations carry are known
            var ok = !change.moved || [opts.x, opts.y].every(function (st) { return SESSION_STATS[st] || ANN_STATS[st]; });
            var runs = {};
            (ann.objects || []).forEach(function (o) {
                if (!isNum(o.run)) { return; }
                runs[o.run] = true;
                if (plotted(o, opts)) {
                    if (!putPoint(m, o, s, opts)) { ok = false; }
                } else {
                    removePoint(m, o.run, s, opts);
                }
            });
            Object.keys(m.pts).forEach(function (k) {
                var p = m.pts[k];
                if (p && p.s === s && !runs[p.run]) { removePoint(m, p.run, s, opts); }
            });
            return ok;
        }
        return false;
    }

    // a trace for a colour group the figure does not have yet (dynamics only: the colours
    // come from the server through the viewers' hideout), from another group's trace
    function newStyle(m, key, opts) {
        if (m.colorBy !== "dynamics") { return null; }
        var color = opts.colors && opts.colors[key];
        var ks = Object.keys(m.styles);
        if (!color || !DYN_NAMES[key] || !ks.length) { return null; }
        var like = m.styles[ks[0]];
        var style = {type: like.type, mode: like.mode, name: DYN_NAMES[key], hovertemplate: like.hovertemplate,
            marker: Object.assign({}, like.marker, {color: color})};
        m.styles = Object.assign({}, m.styles);
        m.styles[key] = style;
        return style;
    }

    /** The d3 format of a statistic in the hover (mapplot.hover_format). */
    function hoverFormat(stat, values) {
        if (stat === "session" || stat === "days") { return "d"; }
        if (values.length && values.every(function (v) { return Math.floor(v) === v; })) { return "d"; }
        var big = 0;
        values.forEach(function (v) { big = Math.max(big, Math.abs(v)); });
        return big >= 1e4 ? ",.0f" : ".4~g";
    }

    /**
     * The figure's traces of a plot model, as map_plot makes them: the run lines (runs in
     * order, sessions in order, runs of two points or more), then one trace per colour
     * group in the order of its key, points by run then session. null when a group's trace
     * cannot be made here.
     */
    function plotTraces(m, opts) {
        var pts = Object.keys(m.pts).map(function (k) { return m.pts[k]; });
        pts.sort(function (a, b) { return a.run - b.run || a.s - b.s; });
        var lx = [], ly = [], groups = {}, allX = [], allY = [];
        var i = 0;
        while (i < pts.length) {
            var j = i;
            while (j < pts.length && pts[j].run === pts[i].run) { j++; }
            if (j - i > 1) {
                for (var q = i; q < j; q++) { lx.push(pts[q].x); ly.push(pts[q].y); }
                lx.push(null);
                ly.push(null);
            }
            i = j;
        }
        pts.forEach(function (p) {
            var g = groups[p.key] || (groups[p.key] = {x: [], y: [], cd: [], sym: []});
            g.x.push(p.x);
            g.y.push(p.y);
            g.cd.push([p.run, p.s]);
            g.sym.push(p.bad ? "x" : "circle");
            allX.push(p.x);
            allY.push(p.y);
        });
        var fx = opts.x ? hoverFormat(opts.x, allX) : null, fy = opts.y ? hoverFormat(opts.y, allY) : null;
        var out = [Object.assign({}, m.line, {x: lx, y: ly})];
        var keys = Object.keys(groups).map(Number).sort(function (a, b) { return a - b; });
        for (var n = 0; n < keys.length; n++) {
            var style = m.styles[keys[n]] || newStyle(m, keys[n], opts);
            if (!style) { return null; }
            var g = groups[keys[n]];
            var tpl = style.hovertemplate;
            if (typeof tpl === "string") {
                if (fx) { tpl = tpl.replace(/%\{x:[^}]*\}/, "%{x:" + fx + "}"); }
                if (fy) { tpl = tpl.replace(/%\{y:[^}]*\}/, "%{y:" + fy + "}"); }
            }
            out.push(Object.assign({}, style, {x: g.x, y: g.y, customdata: g.cd, hovertemplate: tpl,
                marker: Object.assign({}, style.marker, {symbol: g.sym})}));
        }
        return out;
    }

    /*
     * The points of one colour group whose picture an edit changes, from the trace drawn
     * (was) to the new one (t), points known by their customdata [run, session]: a point
     * gone, added, moved or drawn with another symbol, where it was and where it is,
     * [[x, y], ...] (data values). Both traces' points are in the order of their run, then
     * session (plotTraces, and the server's figure): null when they are not (the points
     * that stay might be drawn in another order, where they overlap the picture differs:
     * every point is to be drawn again).
     */
    function changedPoints(was, t) {
        var wc = was.customdata, tc = t.customdata;
        var ws = was.marker && was.marker.symbol, ts = t.marker && t.marker.symbol;
        if (!wc || !tc || !Array.isArray(ws) || !Array.isArray(ts) || wc.length !== was.x.length ||
            tc.length !== t.x.length) {
            return null;
        }
        var ok = function (c) { return c && isNum(c[0]) && isNum(c[1]); };
        var cmp = function (p, q) { return p[0] - q[0] || p[1] - q[1]; };
        var out = [], i = 0, j = 0, nw = wc.length, nt = tc.length;
        while (i < nw || j < nt) {
            if (i < nw && (!ok(wc[i]) || (i > 0 && cmp(wc[i - 1], wc[i]) >= 0))) { return null; }
            if (j < nt && (!ok(tc[j]) || (j > 0 && cmp(tc[j - 1], tc[j]) >= 0))) { return null; }
            var c = i >= nw ? 1 : j >= nt ? -1 : cmp(wc[i], tc[j]);
            if (c < 0) {
                out.push([was.x[i], was.y[i]]);   // gone
                i++;
            } else if (c > 0) {
                out.push([t.x[j], t.y[j]]);       // added
                j++;
            } else {
                if (was.x[i] !== t.x[j] || was.y[i] !== t.y[j] || ws[i] !== ts[j]) {
                    out.push([was.x[i], was.y[i]], [t.x[j], t.y[j]]);
                }
                i++;
                j++;
            }
        }
        return out;
    }

    /*
     * Boxes [x, y, width, height] (a canvas's pixels, y up as WebGL's) that cover points
     * ({x, y} the same pixels) drawn `r` pixels around them, within w x h: overlapping or
     * near boxes merged while one box costs less than two (a box costs its area and
     * `pass`: a pass over every point); null when that is not much less than the whole.
     */
    function dirtyBoxes(points, r, w, h, pass) {
        var boxes = [];
        points.forEach(function (p) {
            if (!isFinite(p.x) || !isFinite(p.y)) { return; }
            var x0 = Math.max(0, Math.floor(p.x - r)), y0 = Math.max(0, Math.floor(p.y - r));
            var x1 = Math.min(w, Math.ceil(p.x + r)), y1 = Math.min(h, Math.ceil(p.y + r));
            if (x1 > x0 && y1 > y0) { boxes.push([x0, y0, x1, y1]); }
        });
        var area = function (b) { return (b[2] - b[0]) * (b[3] - b[1]); };
        var merged = true;
        while (merged) {
            merged = false;
            for (var i = 0; i < boxes.length && !merged; i++) {
                for (var j = i + 1; j < boxes.length && !merged; j++) {
                    var a = boxes[i], b = boxes[j];
                    var u = [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
                    if (area(u) <= area(a) + area(b) + pass) {
                        boxes[i] = u;
                        boxes.splice(j, 1);
                        merged = true;
                    }
                }
            }
        }
        var cost = 0;
        boxes.forEach(function (b) { cost += area(b) + pass; });
        if (cost >= 0.6 * w * h) { return null; }
        return boxes.map(function (b) { return [b[0], b[1], b[2] - b[0], b[3] - b[1]]; });
    }

    return {
        changedPoints: changedPoints, dirtyBoxes: dirtyBoxes,
        nearestSegment: nearestSegment, nearestSpineSegment: nearestSpineSegment, voxel: voxel,
        featuresOf: featuresOf, connectCommand: connectCommand, disconnectCommand: disconnectCommand,
        age: age, unsavedText: unsavedText, othersText: othersText, objectsText: objectsText,
        shortcut: shortcut, parseUserType: parseUserType, newRows: newRows, objectAt: objectAt,
        dynCode: dynCode, groupKey: groupKey, plotModel: plotModel, cloneModel: cloneModel,
        plotApply: plotApply, plotTraces: plotTraces, hoverFormat: hoverFormat,
        noteText: noteText, userTypeText: userTypeText
    };
}));

(function () {
    "use strict";
    if (typeof window === "undefined" || !window.pmm || !window.pmm.state) { return; }

    var pmm = window.pmm;
    var state = pmm.state;
    var X = window.PmmEditLogic;
    // ids as app/ids.py (tests/callbacks/test_assets.py checks them)
    var IDS = {
        BAR: "pmm-edit-bar",
        CONFIG: "pmm-edit-config",
        VERSION: "pmm-edit-version",
        TOGGLE: "pmm-edit-toggle",
        SAVE: "pmm-edit-save",
        UNDO: "pmm-edit-undo",
        REDO: "pmm-edit-redo",
        DISCARD: "pmm-edit-discard",
        STATUS: "pmm-edit-status",
        OTHERS: "pmm-edit-others",
        MESSAGE: "pmm-edit-message",
        HISTORY_OPEN: "pmm-edit-history-open",
        HISTORY: "pmm-edit-history",
        SPINES: "pmm-viewer-spines",
        SESSIONS: "pmm-sessions",
        PLOT: "pmm-plot",
        PLOT_X: "pmm-plot-x",
        PLOT_Y: "pmm-plot-y",
        PLOT_COLOR: "pmm-plot-color",
        PLOT_SEGMENT: "pmm-plot-segment",
        PLOT_ROI: "pmm-plot-roi",
        PLOT_BAD: "pmm-plot-bad"
    };
    var POLL_MS = 15000;
    // commands that can renumber the runs of every session (the plot waits for the server)
    var STRUCTURAL = {add_spine: true, "delete": true, connect: true, disconnect: true};
    var PICK = "#f97316";

    var E = {
        cfg: null,           // {api, user, can_edit} from the EDIT_CONFIG store
        on: false,           // edit mode
        status: {unsaved: 0, oldest_unsaved: null, can_undo: false, can_redo: false, version: null,
                 base_version: null, others: []},  // from the server
        ann: {},             // session -> annotations payload (working copy), as last fetched
        tracing: {},         // session -> tracing payload
        pick: null,          // {session, row, marker, ring}: the Alt+click pick
        queue: Promise.resolve(),
        busy: 0,             // requests in flight
        plotT0: null,        // the last edit's input time, until the plot shows it
        serverT0: null,      // the last edit's input time, until the server's figure lands
        seq: 0,              // commands sent
        answered: 0,         // the last command the server answered
        // the plot: the server's last figure (data, its points) and the edits shown over it
        // until a figure made after them lands (ops: {seq, change, bumped})
        plot: {data: null, base: null, ops: [], known: {}, model: null, drawing: Promise.resolve()},
        history: false       // the history panel is open
    };

    function $(id) { return document.getElementById(id); }
    function api(path) { return E.cfg.api + path; }

    function request(method, path, body) {
        var opts = {method: method, credentials: "same-origin", headers: {"Accept": "application/json"}};
        if (body !== undefined) {
            opts.headers["Content-Type"] = "application/json";
            opts.body = JSON.stringify(body);
        }
        return fetch(api(path), opts).then(function (r) {
            return r.text().then(function (text) {
                var data = null;
                try { data = text ? JSON.parse(text) : null; } catch (err) { data = {error: text}; }
                return {status: r.status, ok: r.ok, data: data || {}};
            });
        });
    }

    // requests run one after the other, in the order the edits were made
    function enqueue(fn) {
        E.busy += 1;
        var p = E.queue.then(fn).catch(function (err) {
            message("The server could not be reached: " + (err && err.message ? err.message : err), "danger");
        }).then(function () { E.busy -= 1; indicator(); });
        E.queue = p;
        return p;
    }

    // ------------------------------------------------------------------ messages and indicator

    function message(text, kind, extra) {
        var box = $(IDS.MESSAGE);
        if (!box) { return; }
        box.innerHTML = "";
        if (!text) { box.hidden = true; return; }
        box.hidden = false;
        box.className = "alert alert-" + (kind || "info") + " py-1 px-2 my-1 small pmm-edit-message";
        box.setAttribute("data-kind", kind || "info");
        var span = document.createElement("span");
        span.textContent = text;
        box.appendChild(span);
        (extra || []).forEach(function (el) { box.appendChild(document.createTextNode(" ")); box.appendChild(el); });
        var close = document.createElement("button");
        close.type = "button";
        close.className = "btn-close btn-sm float-end";
        close.setAttribute("aria-label", "Close");
        close.addEventListener("click", function () { message(""); });
        box.appendChild(close);
    }

    function indicator() {
        var st = E.status;
        var el = $(IDS.STATUS);
        if (el) {
            el.textContent = X.unsavedText(st.unsaved, st.oldest_unsaved) + (E.busy ? " · sending…" : "");
            el.classList.toggle("pmm-edit-dirty", st.unsaved > 0);
            el.setAttribute("data-unsaved", String(st.unsaved || 0));
        }
        var others = $(IDS.OTHERS);
        if (others) { others.textContent = X.othersText(st.others); }
        var set = function (id, on) { var b = $(id); if (b) { b.disabled = !on; } };
        set(IDS.UNDO, E.on && st.can_undo);
        set(IDS.REDO, E.on && st.can_redo);
        set(IDS.SAVE, st.unsaved > 0);
        set(IDS.DISCARD, st.unsaved > 0);
        var t = $(IDS.TOGGLE);
        if (t) {
            t.classList.toggle("active", E.on);
            t.setAttribute("aria-pressed", E.on ? "true" : "false");
            t.textContent = E.on ? "Editing" : "Edit";
        }
        document.documentElement.classList.toggle("pmm-editing", E.on);
    }

    function takeStatus(d) {
        ["unsaved", "oldest_unsaved", "can_undo", "can_redo", "version", "base_version", "others"].forEach(function (k) {
            if (d && d[k] !== undefined) { E.status[k] = d[k]; }
        });
        if (d && d.unsaved === 0) { E.status.oldest_unsaved = null; }
        if (d && d.unsaved > 0 && !E.status.oldest_unsaved) { E.status.oldest_unsaved = new Date().toISOString(); }
        indicator();
    }

    // ------------------------------------------------------------------ the viewers

    function setFeatures(s, fc) {
        var set = window.dash_clientside && window.dash_clientside.set_props;
        if (set) { set({type: IDS.SPINES, index: s}, {data: fc}); }
    }

    function ghostsOf(s) {
        var out = [];
        pmm.spines.markers(s).forEach(function (m) { if (m.feature.properties.ghost) { out.push(m.feature); } });
        return out;
    }

    // a session's annotations (working copy) -> its viewer
    function showAnnotations(s, ann) {
        E.ann[s] = ann;
        if (pmm.layers.map(s)) { setFeatures(s, X.featuresOf(ann, ghostsOf(s))); }
    }

    function fetchAnnotations(s) {
        var roi = state.get().roi;
        return request("GET", "/sessions/" + s + "/annotations?edits=1" + (roi ? "&roi=" + encodeURIComponent(roi) : ""))
            .then(function (r) { if (r.ok) { E.ann[s] = r.data; } return r.ok ? r.data : null; });
    }

    function fetchTracing(s) {
        if (E.tracing[s]) { return Promise.resolve(E.tracing[s]); }
        return request("GET", "/sessions/" + s + "/tracing?edits=1").then(function (r) {
            E.tracing[s] = r.ok ? r.data : {segments: []};
            return E.tracing[s];
        });
    }

    // every shown viewer from the working copy (reload with unsaved edits, restore, save merged)
    function refreshViewers() {
        return Promise.all(state.get().sessions.map(function (s) {
            return fetchAnnotations(s).then(function (ann) { if (ann) { showAnnotations(s, ann); } });
        }));
    }

    // the plot and the run strip take the working copy's version (callbacks/map_viewer.py)
    function bumpVersion(t0, seq) {
        var set = window.dash_clientside && window.dash_clientside.set_props;
        if (typeof t0 === "number") { E.serverT0 = t0; }
        // the figure asked for now includes every edit answered so far (Dash drops the
        // answer of an older request of the same callback)
        var upto = typeof seq === "number" ? seq : E.answered;
        E.plot.ops.forEach(function (op) { if (op.seq <= upto) { op.bumped = true; } });
        if (typeof seq !== "number") { E.plot.known = {}; }   // saved, discarded, restored: runs may differ
        if (set) { set(IDS.VERSION, {data: {version: E.status.version, edits: E.status.unsaved > 0}}); }
    }

    // ------------------------------------------------------------------ the plot

    function plotDiv() { return document.querySelector("#" + IDS.PLOT + " .js-plotly-plot"); }

    function dashValue(id) {
        var api = window.dash_component_api;
        var node = api && api.getLayout ? api.getLayout(id) : null;
        return node && node.props ? node.props : null;
    }

    // the plot's controls, as the server's figure was made with them (null: not known)
    function plotOpts() {
        var x = dashValue(IDS.PLOT_X), y = dashValue(IDS.PLOT_Y), sess = dashValue(IDS.SESSIONS);
        if (!x || !y || !x.value || !y.value) { return null; }
        var color = dashValue(IDS.PLOT_COLOR), seg = dashValue(IDS.PLOT_SEGMENT);
        var roi = dashValue(IDS.PLOT_ROI), bad = dashValue(IDS.PLOT_BAD);
        var colors = null;
        state.get().sessions.some(function (s) {
            pmm.spines.markers(s).forEach(function (m) { if (!colors && m._pmmColors) { colors = m._pmmColors; } });
            return !!colors;
        });
        return {
            x: x.value, y: y.value,
            colorBy: color && color.value === "segment" ? "segment" : "dynamics",
            segment: seg && typeof seg.value === "number" ? seg.value : -1,
            roi: roi ? roi.value : null,
            includeBad: !!(bad && bad.value),
            nSessions: sess && sess.options ? sess.options.length : null,
            colors: colors || {},
            known: E.plot.known
        };
    }

    // the server's figure + the edits it does not show yet -> the plot (restyled in place);
    // resolves to true when the plot shows every one of them. shown(complete): called at
    // once when the edits are painted before Plotly's own restyle (quickDraw), else when
    // that restyle is done
    function plotRender(shown) {
        var P = E.plot;
        P.drawing = P.drawing.then(function () {
            var gd = plotDiv();
            var opts = plotOpts();
            if (!gd || !P.base || gd.data !== P.data || !opts || !window.Plotly) { return false; }
            var at = modelFor(P, opts);
            var traces = X.plotTraces(at.m, opts);
            var complete = at.complete;
            if (!traces) { return false; }
            if (quickDraw(gd, traces)) {
                if (shown) { shown(complete); shown = null; }
                // Plotly's data (hover, click, zoom) follows once that frame is painted
                return new Promise(function (resolve) { pmm.afterPaint(resolve); }).then(function () {
                    return gd.data === P.data ? drawTraces(gd, traces) : null;
                }).then(function () { return complete; });
            }
            // the viewers' frame first: Plotly's restyle takes longer than theirs
            return new Promise(function (resolve) { pmm.afterPaint(resolve); }).then(function () {
                return gd.data === P.data ? drawTraces(gd, traces) : null;
            }).then(function () { return complete; });
        }).then(function (complete) {
            if (shown) { shown(complete); }
            return complete;
        }).catch(function (err) {
            if (window.console) { console.warn("pmm edit: the plot was not updated here", err); }
            return false;
        });
        return P.drawing;
    }

    /*
     * The plot model of the server's figure with the edits over it: kept between renders, so
     * that a new edit is applied to the model of the ones before (copying the figure's
     * points and applying every edit again is most of the work for a large map); made
     * again from the figure when it or the plot's controls changed or an edit was taken
     * back. {m, complete}.
     */
    function modelFor(P, opts) {
        var sig = JSON.stringify([opts.x, opts.y, opts.colorBy, opts.segment, opts.roi, opts.includeBad, opts.nSessions]);
        var c = P.model;
        var fresh = !c || c.base !== P.base || c.sig !== sig || c.known !== opts.known || c.ops.length > P.ops.length ||
            c.ops.some(function (op, i) { return P.ops[i] !== op; });
        if (fresh) {
            c = P.model = {base: P.base, sig: sig, known: opts.known, ops: [], m: X.cloneModel(P.base), complete: true};
        }
        for (var i = c.ops.length; i < P.ops.length; i++) {
            if (!X.plotApply(c.m, P.ops[i].change, opts)) { c.complete = false; }
            c.ops.push(P.ops[i]);
        }
        return c;
    }

    /*
     * The new traces painted at once by the plot's WebGL scene (regl-scatter2d) and its run
     * lines' SVG path, before Plotly knows of them: Plotly.restyle first recomputes every
     * trace (about 80 ms of script for 6,000 points in software-rendered Chromium, more
     * than the redraw itself), this uploads the points and redraws (a few ms of script).
     * Only for traces the scene already draws (the same colour groups in the same order,
     * their colours and the symbols' shapes known from what it draws); false, and nothing
     * done, otherwise. Plotly.restyle follows (plotRender), which makes hover, click and
     * zoom see the new points and draws the same picture again.
     *
     * Only the pixels around the points the edit changes are drawn again (repaint): in
     * software-rendered WebGL the scene's whole redraw is most of the key's frame.
     */
    function quickDraw(gd, traces) {
        var fl = gd._fullLayout;
        var sub = fl && fl._plots && fl._plots.xy;
        var scene = sub && sub._scene;
        var xa = fl && fl.xaxis, ya = fl && fl.yaxis;
        if (!scene || !scene.scatter2d || typeof scene.scatter2d.update !== "function" ||
            typeof scene.draw !== "function" || !scene.markerOptions || !xa || !ya ||
            !gd.calcdata || traces.length !== gd.data.length || gd.calcdata.length !== gd.data.length) {
            return false;
        }
        var sdf = {circle: null};   // symbol -> its shape, as the scene draws it
        scene.markerOptions.forEach(function (o) {
            if (o && o.symbols && o.markers) {
                for (var j = 0; j < o.symbols.length; j++) { sdf[o.symbols[j]] = o.markers[j]; }
            }
        });
        var opts = scene.markerOptions.slice();
        // undefined: the group is left as it is (dense: regl-scatter2d maps over it, holes and all)
        var update = opts.map(function () { return undefined; });
        // the changed points' data values, by group (null: the whole scene is drawn again)
        var changed = [];
        for (var i = 1; i < traces.length; i++) {
            var t = traces[i], was = gd.data[i], cd = gd.calcdata[i][0];
            var k = cd && cd.t ? cd.t.index : -1;
            var old = opts[k];
            if (was.type !== "scattergl" || t.name !== was.name || !old || !old.colors ||
                !old.colors.length || !old.borderColors || typeof old.snap !== "number") {
                return false;
            }
            if (samePoints(t, was)) { continue; }
            if (changed) {
                var pts = X.changedPoints(was, t);
                changed = pts ? changed.concat(pts.map(function (p) { return [k, p[0], p[1]]; })) : null;
            }
            var n = t.x.length, pos = new Float64Array(2 * n);
            // snap: the group's count, as Plotly gives it (more points than `snap` and
            // regl-scatter2d draws the group in its level-of-detail order, not Plotly's)
            var o = Object.assign({}, old, {positions: pos, symbols: new Array(n), markers: new Array(n),
                colors: new Array(n), borderColors: new Array(n), angles: new Array(n), snap: n});
            for (var q = 0; q < n; q++) {
                var sym = t.marker.symbol[q];
                if (!Object.prototype.hasOwnProperty.call(sdf, sym)) { return false; }
                pos[2 * q] = xa.d2l(t.x[q]);
                pos[2 * q + 1] = ya.d2l(t.y[q]);
                o.symbols[q] = sym;
                o.markers[q] = sdf[sym];
                o.colors[q] = old.colors[0];
                o.borderColors[q] = old.borderColors[0];
                o.angles[q] = 0;
            }
            opts[k] = o;
            // one colour for the group (every point of a trace has its colour): regl-scatter2d
            // then skips converting a colour a point
            update[k] = {positions: pos, markers: o.markers, snap: n,
                color: old.colors[0], borderColor: old.borderColors[0]};
        }
        var trace0 = gd.querySelector(".scatterlayer .trace");
        var lines = trace0 ? trace0.querySelectorAll("path.js-line") : [];
        // the canvas shows gd.data unless this drew over it since Plotly last did
        var boxes = changed && scene._pmmQuick !== scene.markerOptions ? repaintBoxes(fl, scene, changed, xa, ya) : null;
        scene.scatter2d.update(update);
        scene.markerOptions = opts;
        scene._pmmQuick = opts;
        if (!boxes || !repaint(scene, boxes)) {
            // as Plotly does before a redraw (its canvases keep their drawing buffer)
            if (fl._glcanvas && typeof fl._glcanvas.each === "function") {
                fl._glcanvas.each(function (d) { if (d && d.regl) { d.regl.clear({color: true, depth: true}); } });
            }
            scene.draw();
        }
        // the GPU process starts on the drawing now, while this thread goes on to the frame
        var gl = scene.scatter2d.regl && scene.scatter2d.regl._gl;
        if (gl && typeof gl.flush === "function") { gl.flush(); }
        // Plotly may draw the run lines as several paths: all of them in the first
        for (var p = 0; p < lines.length; p++) {
            var d = p === 0 ? linePath(traces[0], xa, ya) : "M0,0";
            if (lines[p].getAttribute("d") !== d) { lines[p].setAttribute("d", d); }
        }
        return true;
    }

    /*
     * The scene's pixels to draw again for points [group, x, y] (data values) that changed:
     * boxes of its canvas (X.dirtyBoxes), or null (draw it all). A point is drawn within
     * its group's viewport, at its range, in sprites of the group's size and border (the
     * canvas's pixels: `size` CSS pixels times the canvas's pixel ratio), with a margin.
     */
    function repaintBoxes(fl, scene, changed, xa, ya) {
        var s2 = scene.scatter2d, regl = s2.regl, gl = regl && regl._gl;
        var canvas = gl && gl.canvas;
        // the canvas's pixels a CSS pixel (not its clientWidth: no layout in the key's frame)
        var ratio = canvas && fl.width > 0 ? canvas.width / fl.width : 0;
        if (!ratio || !s2.groups || scene.fill2d || scene.line2d || scene.error2d ||
            scene.select2d || (scene.glText && scene.glText.length)) {
            return null;
        }
        var w = canvas.width, h = canvas.height;
        var pts = [], size = 0;
        for (var i = 0; i < changed.length; i++) {
            var g = s2.groups[changed[i][0]], vp = g && g.viewport, rg = g && g.range;
            if (!vp || !rg || rg.length !== 4 || rg[2] === rg[0] || rg[3] === rg[1]) { return null; }
            var sz = Array.isArray(g.size) ? Math.max.apply(null, g.size) : g.size;
            var bs = Array.isArray(g.borderSize) ? Math.max.apply(null, g.borderSize) : g.borderSize;
            if (!isFinite(sz) || !isFinite(bs || 0)) { return null; }
            size = Math.max(size, sz + 2 * (bs || 0));
            var lx = xa.d2l(changed[i][1]), ly = ya.d2l(changed[i][2]);
            pts.push({x: vp.x + (lx - rg[0]) / (rg[2] - rg[0]) * vp.width,
                y: vp.y + (ly - rg[1]) / (rg[3] - rg[1]) * vp.height});
        }
        // a pass over every point costs about as much as drawing a tenth of the canvas
        return X.dirtyBoxes(pts, size * ratio + 4, w, h, 0.1 * w * h);
    }

    // clear and draw the scene again in each box only (the scene's own clip narrowed to the
    // box, regl's state put back after); false when it cannot
    function repaint(scene, boxes) {
        var regl = scene.scatter2d.regl, gl = regl && regl._gl;
        if (!gl || typeof regl._refresh !== "function" || Object.prototype.hasOwnProperty.call(gl, "scissor")) {
            return false;
        }
        var scissor = gl.scissor, box = null;
        gl.scissor = function (x, y, w, h) {
            var x0 = Math.max(x, box[0]), y0 = Math.max(y, box[1]);
            var x1 = Math.min(x + w, box[0] + box[2]), y1 = Math.min(y + h, box[1] + box[3]);
            scissor.call(gl, x0, y0, Math.max(0, x1 - x0), Math.max(0, y1 - y0));
        };
        try {
            boxes.forEach(function (b) {
                box = b;
                gl.enable(gl.SCISSOR_TEST);
                scissor.call(gl, b[0], b[1], b[2], b[3]);
                gl.clearColor(0, 0, 0, 0);
                gl.clearDepth(1);
                gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
                scene.draw();
            });
        } finally {
            delete gl.scissor;
            regl._refresh();
        }
        return true;
    }

    // the same points, symbols and hover data (a colour group the edit did not touch)
    function samePoints(t, was) {
        var n = t.x.length, ws = was.marker && was.marker.symbol;
        if (!was.x || was.x.length !== n || !was.y || !ws || ws.length !== n || !was.customdata) { return false; }
        for (var q = 0; q < n; q++) {
            if (t.x[q] !== was.x[q] || t.y[q] !== was.y[q] || t.marker.symbol[q] !== ws[q] ||
                t.customdata[q][0] !== was.customdata[q][0] || t.customdata[q][1] !== was.customdata[q][1]) {
                return false;
            }
        }
        return true;
    }

    // the run lines' SVG path (runs separated by nulls), in the plot area's pixels
    function linePath(t, xa, ya) {
        var d = [], start = true;
        for (var i = 0; i < t.x.length; i++) {
            if (t.x[i] === null || t.y[i] === null) { start = true; continue; }
            var px = xa.l2p(xa.d2l(t.x[i])), py = ya.l2p(ya.d2l(t.y[i]));
            if (!isFinite(px) || !isFinite(py)) { start = true; continue; }
            d.push((start ? "M" : "L") + px.toFixed(2) + "," + py.toFixed(2));
            start = false;
        }
        return d.join("") || "M0,0";
    }

    // the traces into the plot: groups gone deleted, new ones added at their place, then
    // every trace's points restyled in one call
    function drawTraces(gd, traces) {
        var Plotly = window.Plotly;
        var want = traces.map(function (t) { return t.name; });
        var have = gd.data.map(function (t) { return t.name; });
        var p = Promise.resolve();
        if (want.join("\u0001") !== have.join("\u0001")) {
            var gone = [];
            have.forEach(function (n, i) { if (i > 0 && want.indexOf(n) < 0) { gone.push(i); } });
            if (gone.length) { p = p.then(function () { return Plotly.deleteTraces(gd, gone); }); }
            p = p.then(function () {
                var add = [], at = [];
                traces.forEach(function (t, i) { if (i > 0 && have.indexOf(t.name) < 0) { add.push(t); at.push(i); } });
                if (add.length) { return Plotly.addTraces(gd, add, at); }
            });
        }
        return p.then(function () {
            var idx = traces.map(function (t, i) { return i; });
            var pick = function (f) { return traces.map(function (t, i) { return i === 0 ? undefined : f(t); }); };
            return Plotly.restyle(gd, {
                x: traces.map(function (t) { return t.x; }),
                y: traces.map(function (t) { return t.y; }),
                customdata: pick(function (t) { return t.customdata; }),
                "marker.symbol": pick(function (t) { return t.marker.symbol; }),
                hovertemplate: pick(function (t) { return t.hovertemplate; })
            }, idx);
        });
    }

    // an edit shown in the plot at once; t0: its input time (pmm:edit-plot when complete)
    function plotChange(seq, changes, t0) {
        if (!changes.length) { return; }
        hookPlot();
        changes.forEach(function (c) { E.plot.ops.push({seq: seq, change: c, bumped: false}); });
        // in the viewers' frame when the plot's scene can paint it at once (quickDraw), else
        // after it (plotRender)
        plotRender(function (complete) {
            if (complete && typeof t0 === "number" && E.plotT0 === t0) {
                E.plotT0 = null;
                pmm.measure("edit-plot", t0);
            }
        });
    }

    // an edit the server refused: the plot without it
    function plotDrop(seq) {
        var n = E.plot.ops.length;
        E.plot.ops = E.plot.ops.filter(function (op) { return op.seq !== seq; });
        if (E.plot.ops.length !== n) { plotRender(); }
    }

    // a figure from the server drawn: it is the plot now, with the edits it does not show yet over it
    function plotLanded(gd) {
        var P = E.plot;
        P.data = gd.data;
        var opts = plotOpts();
        P.base = opts ? X.plotModel(gd.data, opts.colorBy) : null;
        P.ops = P.ops.filter(function (op) { return !op.bumped; });
        if (E.serverT0 !== null) {
            pmm.measure("edit-plot-server", E.serverT0);
            E.serverT0 = null;
            if (E.plotT0 !== null) { pmm.measure("edit-plot", E.plotT0); E.plotT0 = null; }
        }
        if (P.ops.length) {
            plotRender();
        } else {
            // the model of the next edit made now (a copy of every point), not in its key's frame
            pmm.afterPaint(function () {
                var now = plotOpts();
                if (P.base && now && !P.ops.length) { modelFor(P, now); }
            });
        }
    }

    function markerOf(s, row) {
        var hit = null;
        pmm.spines.markers(s).forEach(function (m) {
            var p = m.feature.properties;
            if (!p.ghost && p.row === row) { hit = m; }
        });
        return hit;
    }

    /** The selected spine: {session, row, marker} (the selected run in the session it was picked in). */
    function selected() {
        var st = state.get();
        if (st.run === null) { return null; }
        var sessions = st.runSession !== null && st.sessions.indexOf(st.runSession) >= 0 ? [st.runSession] : st.sessions;
        var found = [];
        sessions.forEach(function (s) {
            var m = pmm.spines.findRun(s, st.run);
            if (m && !m.feature.properties.ghost) { found.push({session: s, row: m.feature.properties.row, marker: m}); }
        });
        return found.length === 1 ? found[0] : null;
    }

    function needSelected() {
        var sel = selected();
        if (!sel) { message("Click a spine in a viewer first (it is ringed when selected).", "warning"); }
        return sel;
    }

    function clearPick() {
        if (E.pick && E.pick.ring) { E.pick.ring.remove(); }
        E.pick = null;
    }

    function setPick(s, m) {
        clearPick();
        var map = pmm.layers.map(s);
        var ring = map ? window.L.circleMarker(m.getLatLng(), {radius: (state.get().spineSize || 6) + 6, color: PICK,
            weight: 3, dashArray: "4 3", fill: false, interactive: false, className: "pmm-edit-pick"}).addTo(map) : null;
        E.pick = {session: s, row: m.feature.properties.row, marker: m, ring: ring};
        message("Picked session " + s + " row " + E.pick.row + ": press C to connect it with the selected spine.", "info");
    }

    // select the run of (s, row) in the working copy, leaving the planes where they are
    function selectRow(s, row) {
        var o = X.objectAt(E.ann[s], row);
        if (o && typeof o.run === "number") {
            state.select(o.run, {source: "edit", session: s, keepPlanes: true}, {kind: "edit"});
        }
    }

    // ------------------------------------------------------------------ commands

    /**
     * Send one command. `optimistic()` updates the viewers at once (before the answer),
     * `plot` (changes for PmmEditLogic.plotApply) the plot, `after(resp)` runs once the
     * server's answer is drawn. t0: the input event's time.
     */
    function send(cmd, t0, optimistic, after, plot) {
        if (!E.on) { return; }
        var seq = ++E.seq;
        if (optimistic) {
            optimistic();
            pmm.measure("edit-" + cmd.op, t0);
        }
        if (STRUCTURAL[cmd.op]) { E.plot.known = {}; }
        E.plotT0 = t0;   // until the plot shows the edit: below, or when the server's figure lands
        if (plot && plot.length) { plotChange(seq, plot, t0); }
        enqueue(function () {
            var roi = state.get().roi;
            return request("POST", "/edits" + (roi ? "?roi=" + encodeURIComponent(roi) : ""), cmd).then(function (r) {
                if (!r.ok) {
                    message(r.data.error || ("The edit was refused (" + r.status + ")."), "danger");
                    // take back what was shown before the answer
                    plotDrop(seq);
                    if (E.plotT0 === t0) { E.plotT0 = null; }
                    return refreshViewers().then(function () { if (r.status !== 422) { return loadStatus(); } });
                }
                var d = r.data;
                var sessions = d.sessions || {};
                var prior = {};
                Object.keys(sessions).forEach(function (k) { prior[k] = E.ann[Number(k)]; });
                E.answered = seq;
                takeStatus(d);
                Object.keys(sessions).forEach(function (k) { showAnnotations(Number(k), sessions[k]); });
                var summary = d.applied && d.applied.summary;
                if (summary) { message((cmd.op === "undo" ? "Undone: " : cmd.op === "redo" ? "Redone: " : "") + summary, "secondary"); }
                pmm.measure("edit-server", t0);
                // what was done (undo and redo name the command): the plot from the answer when
                // the run numbers stay; otherwise every viewer's runs are read again
                var done = (d.applied && d.applied.command && d.applied.command.op) || cmd.op;
                var runs = runChange(cmd, prior, sessions);
                if (runs) {
                    // runs are ordered by the session they start in, then row: the server's
                    // numbers follow from the answer and the annotations before it
                    E.plot.known = {};
                    plotChange(seq, [runs].concat(Object.keys(sessions).map(function (k) {
                        return {op: "sync", s: Number(k), ann: sessions[k]};
                    })), t0);
                } else if (STRUCTURAL[done]) {
                    E.plot.known = {};
                } else {
                    plotChange(seq, Object.keys(sessions).map(function (k) {
                        return {op: "sync", s: Number(k), ann: sessions[k], moved: done === "move"};
                    }), plot && plot.length ? null : t0);
                }
                bumpVersion(t0, seq);
                if (STRUCTURAL[done]) { refreshOthers(sessions); }
                if (after) { after(d); }
            });
        });
    }

    // the plot's renumbering of runs by an add, connect or disconnect (prior: the changed
    // sessions' annotations before it, after: the answer's), or null (left to the server)
    function runChange(cmd, prior, after) {
        var s = cmd.session;
        var runOf = function (ann, row) { var o = X.objectAt(ann, row); return o && typeof o.run === "number" ? o.run : null; };
        var b0 = prior[String(s)], a0 = after[String(s)], b1 = prior[String(s + 1)], a1 = after[String(s + 1)];
        if (!b0 || !a0) { return null; }
        if (cmd.op === "add_spine") {
            // a new run after every run that starts in this session or before
            var rows = X.newRows(b0, a0);
            var added = rows.length === 1 ? runOf(a0, rows[0]) : null;
            return added === null ? null : {op: "insertRun", run: added};
        }
        if (!b1 || !a1) { return null; }
        if (cmd.op === "connect") {
            var into = runOf(b0, cmd.row), from = runOf(b1, cmd.to_row);
            return into === null || from === null || into >= from ? null : {op: "mergeRuns", into: into, from: from, s: s};
        }
        if (cmd.op === "disconnect") {
            var run = runOf(b0, cmd.row);
            var next = run === null ? null : (b1.objects || []).filter(function (o) { return o.run === run; })[0];
            var to = next ? runOf(a1, next.row) : null;
            return to === null || to <= run ? null : {op: "splitRun", run: run, s: s, to: to};
        }
        return null;
    }

    // the shown sessions the answer did not include: their run numbers may have changed too
    function refreshOthers(sessions) {
        var others = state.get().sessions.filter(function (s) { return !sessions[String(s)]; });
        if (!others.length) { return; }
        enqueue(function () {
            return Promise.all(others.map(function (s) {
                return fetchAnnotations(s).then(function (ann) { if (ann) { showAnnotations(s, ann); } });
            }));
        });
    }

    // the spine's annotations object (its statistics for the plot), or what its marker knows
    function annObject(s, row, p) {
        return X.objectAt(E.ann[s], row) || {row: row, segment: p.seg, pDist: p.pDist, z: p.z};
    }

    function afterChangeSelect(s, row) {
        return function () { if (typeof row === "number") { selectRow(s, row); } };
    }

    function addSpine(s, latlng, t0) {
        var before = E.ann[s];
        var temp = null;
        var go = function () {
            var vx = X.voxel(E.ann[s]);
            var x = latlng.lng * vx[0], y = -latlng.lat * vx[1];
            var seg = X.nearestSegment(E.tracing[s], x, y);
            var segment = seg ? seg.segment : X.nearestSpineSegment(E.ann[s], x, y);
            var cmd = {op: "add_spine", session: s, segment: segment === null ? 0 : segment,
                x_um: Math.round(x * 1000) / 1000, y_um: Math.round(y * 1000) / 1000, z: state.zOf(s)};
            send(cmd, t0, function () {
                var map = pmm.layers.map(s);
                if (map) {
                    temp = window.L.circleMarker(latlng, {radius: state.get().spineSize || 6, color: "#fb923c", weight: 2,
                        fillOpacity: 0.3, className: "pmm-edit-new", interactive: false}).addTo(map);
                }
            }, function (d) {
                if (temp) { temp.remove(); }
                var rows = X.newRows(before, d.sessions && d.sessions[s]);
                if (rows.length === 1) { selectRow(s, rows[0]); }
            });
        };
        // the segment needs the tracing and the voxel size (fetched once per session)
        if (E.ann[s] && E.tracing[s]) { go(); return; }
        Promise.all([E.ann[s] ? null : fetchAnnotations(s), fetchTracing(s)]).then(function () {
            before = E.ann[s];
            go();
        });
    }

    function moveSpine(s, m, latlng, t0) {
        var p = m.feature.properties;
        var vx = X.voxel(E.ann[s]);
        var cmd = {op: "move", session: s, row: p.row, x_um: Math.round(latlng.lng * vx[0] * 1000) / 1000,
            y_um: Math.round(-latlng.lat * vx[1] * 1000) / 1000, z: typeof p.z === "number" ? p.z : state.zOf(s)};
        var go = function () { send(cmd, t0, function () { m.setLatLng(latlng); }); };
        if (E.ann[s]) { go(); } else {
            fetchAnnotations(s).then(function () {
                vx = X.voxel(E.ann[s]);
                cmd.x_um = Math.round(latlng.lng * vx[0] * 1000) / 1000;
                cmd.y_um = Math.round(-latlng.lat * vx[1] * 1000) / 1000;
                go();
            });
        }
    }

    function toggleBad(e) {
        var sel = needSelected();
        if (!sel) { return; }
        var p = sel.marker.feature.properties;
        var bad = !p.bad;
        var change = {op: "bad", run: p.run, s: sel.session, bad: bad, obj: annObject(sel.session, sel.row, p)};
        send({op: "set_bad", session: sel.session, row: sel.row, bad: bad}, e.timeStamp, function () {
            p.bad = bad;
            pmm.spines.restyle(sel.marker);
        }, null, [change]);
    }

    function deleteSelected(e) {
        var sel = needSelected();
        if (!sel) { return; }
        var run = sel.marker.feature.properties.run;
        send({op: "delete", session: sel.session, row: sel.row}, e.timeStamp, function () {
            var el = sel.marker.getElement();
            if (el) { el.style.display = "none"; }
            sel.marker._pmmKey = "deleted";
            state.select(null, {source: "edit", keepPlanes: true}, {kind: "edit"});
        }, null, typeof run === "number" ? [{op: "remove", run: run, s: sel.session}] : []);
    }

    function connect(e) {
        var sel = needSelected();
        if (!sel) { return; }
        var cmd;
        try {
            cmd = X.connectCommand(sel, E.pick);
        } catch (err) {
            message(err.message, "warning");
            return;
        }
        var ring = E.pick.ring;
        send(cmd, e.timeStamp, function () { if (ring) { ring.setStyle({dashArray: null}); } },
            function () { clearPick(); selectRow(sel.session, sel.row); });
    }

    function disconnect(e) {
        var sel = needSelected();
        if (!sel) { return; }
        var cmd = X.disconnectCommand(sel, E.pick);
        send(cmd, e.timeStamp, null, function () { clearPick(); selectRow(sel.session, sel.row); });
    }

    // ------------------------------------------------------------------ dialogs

    function dialog(title, label, value, ok) {
        var box = document.createElement("div");
        box.className = "pmm-help pmm-edit-dialog";
        box.setAttribute("role", "dialog");
        box.setAttribute("aria-label", title);
        var card = document.createElement("form");
        card.className = "pmm-help-card";
        var h = document.createElement("h5");
        h.textContent = title;
        card.appendChild(h);
        var lab = document.createElement("label");
        lab.className = "form-label small";
        lab.textContent = label;
        var input = document.createElement("input");
        input.type = "text";
        input.className = "form-control form-control-sm pmm-edit-dialog-input";
        input.value = value === null || value === undefined ? "" : String(value);
        lab.appendChild(input);
        card.appendChild(lab);
        var err = document.createElement("div");
        err.className = "text-danger small pmm-edit-dialog-error";
        card.appendChild(err);
        var row = document.createElement("div");
        row.className = "d-flex gap-2 mt-2";
        var okb = document.createElement("button");
        okb.type = "submit";
        okb.className = "btn btn-sm btn-primary pmm-edit-dialog-ok";
        okb.textContent = "OK";
        var cancel = document.createElement("button");
        cancel.type = "button";
        cancel.className = "btn btn-sm btn-secondary pmm-edit-dialog-cancel";
        cancel.textContent = "Cancel";
        row.appendChild(okb);
        row.appendChild(cancel);
        card.appendChild(row);
        box.appendChild(card);
        var close = function () { box.remove(); };
        card.addEventListener("submit", function (ev) {
            ev.preventDefault();
            var why = ok(input.value, ev.timeStamp);
            if (why) { err.textContent = why; } else { close(); }
        });
        cancel.addEventListener("click", close);
        input.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { ev.stopPropagation(); close(); } });
        document.body.appendChild(box);
        input.focus();
        input.select();
    }

    // the selected spine's annotations object (the working copy's note and user type), then open(o)
    function withObject(sel, open) {
        var o = X.objectAt(E.ann[sel.session], sel.row);
        if (o) { open(o); return; }
        fetchAnnotations(sel.session).then(function (ann) { open(X.objectAt(ann, sel.row)); });
    }

    function editNote() {
        var sel = needSelected();
        if (!sel) { return; }
        withObject(sel, function (o) {
            dialog("Note of session " + sel.session + " row " + sel.row, "Note", X.noteText(o), function (text, t0) {
                send({op: "set_note", session: sel.session, row: sel.row, note: String(text)}, t0, function () {
                    if (o) { o.note = String(text); }
                });
                return "";
            });
        });
    }

    function editUserType() {
        var sel = needSelected();
        if (!sel) { return; }
        withObject(sel, function (o) {
            dialog("User type of session " + sel.session + " row " + sel.row, "User type (0 to 99)", X.userTypeText(o),
                function (text, t0) {
                    var v = X.parseUserType(text);
                    if (v === null) { return "A whole number from 0 to 99."; }
                    send({op: "set_user_type", session: sel.session, row: sel.row, user_type: v}, t0, function () {
                        if (o) { o.userType = v; }
                    });
                    return "";
                });
        });
    }

    // ------------------------------------------------------------------ undo, redo, save, history

    function undoRedo(op, t0) {
        if (!E.on) { return; }
        send({op: op}, t0, function () {});
    }

    function save() {
        if (!E.status.unsaved) { message("Nothing to save.", "secondary"); return; }
        enqueue(function () {
            return request("POST", "/save", {base_version: E.status.base_version}).then(function (r) {
                if (r.status === 409) {
                    var reload = document.createElement("button");
                    reload.type = "button";
                    reload.className = "btn btn-sm btn-warning pmm-edit-reload";
                    reload.textContent = "Reload, keeping my edits";
                    reload.addEventListener("click", function () { E.leaving = true; location.reload(); });
                    var who = r.data.their_version && r.data.their_version.user ? " by " + r.data.their_version.user : "";
                    message("Not saved: the map was saved" + who + " since your edits began, and some of your edits touch " +
                        "the same objects: " + X.objectsText(r.data.conflicts) + ". Nothing was overwritten; your edits are kept.",
                        "danger", [reload]);
                    var box = $(IDS.MESSAGE);
                    if (box) { box.setAttribute("data-conflicts", JSON.stringify(r.data.conflicts || [])); }
                    return;
                }
                if (!r.ok) { message(r.data.error || ("Not saved (" + r.status + ")."), "danger"); return; }
                message(r.data.merged
                    ? "Saved. " + (r.data.message || "The map had been saved by someone else meanwhile; your edits touch other objects and were applied on top of theirs.")
                    : "Saved. " + (r.data.message || ""), r.data.merged ? "info" : "success");
                var box2 = $(IDS.MESSAGE);
                if (box2) { box2.setAttribute("data-merged", r.data.merged ? "1" : "0"); }
                return loadStatus().then(function () {
                    bumpVersion(null);
                    if (r.data.merged) { return refreshViewers(); }
                }).then(function () { if (E.history) { return loadHistory(); } });
            });
        });
    }

    function discard() {
        if (!E.status.unsaved) { return; }
        enqueue(function () {
            return request("DELETE", "/edits").then(function (r) {
                if (!r.ok) { message(r.data.error || "Not discarded.", "danger"); return; }
                message("Your unsaved edits were discarded.", "secondary");
                return loadStatus().then(refreshViewers).then(function () { bumpVersion(null); });
            });
        });
    }

    function loadStatus() {
        return request("GET", "/edits").then(function (r) {
            if (r.ok) { takeStatus(r.data); }
            return r.ok ? r.data : null;
        });
    }

    function fmtTime(iso) {
        var t = Date.parse(iso);
        return isFinite(t) ? new Date(t).toLocaleString() : String(iso || "");
    }

    function loadHistory() {
        var panel = $(IDS.HISTORY);
        if (!panel) { return Promise.resolve(); }
        return request("GET", "/versions").then(function (r) {
            panel.innerHTML = "";
            if (!r.ok) { panel.textContent = r.data.error || "The history cannot be shown."; return; }
            var versions = r.data.versions || [];
            if (!versions.length) {
                var none = document.createElement("div");
                none.className = "text-muted small";
                none.textContent = "No saved versions yet.";
                panel.appendChild(none);
                return;
            }
            var list = document.createElement("ol");
            list.className = "list-unstyled mb-0 pmm-edit-versions";
            versions.forEach(function (v, i) {
                var li = document.createElement("li");
                li.className = "pmm-edit-version border-bottom py-1";
                li.setAttribute("data-version", String(v.id));
                var head = document.createElement("div");
                head.className = "d-flex align-items-center gap-2";
                var t = document.createElement("span");
                t.className = "small";
                t.textContent = "#" + v.id + " · " + (v.user || "?") + " · " + fmtTime(v.time) +
                    (v.restored_from !== null && v.restored_from !== undefined ? " · restore of #" + v.restored_from : "") +
                    (i === 0 ? " · current" : "");
                head.appendChild(t);
                if (i > 0) {
                    var b = document.createElement("button");
                    b.type = "button";
                    b.className = "btn btn-sm btn-outline-secondary ms-auto py-0 pmm-edit-restore";
                    b.textContent = "Restore";
                    b.setAttribute("data-version", String(v.id));
                    head.appendChild(b);
                }
                li.appendChild(head);
                var cmds = document.createElement("ul");
                cmds.className = "small text-muted mb-0 pmm-edit-commands";
                (v.commands || []).forEach(function (c) {
                    var ci = document.createElement("li");
                    ci.textContent = typeof c === "string" ? c : (c.summary || JSON.stringify(c));
                    cmds.appendChild(ci);
                });
                li.appendChild(cmds);
                list.appendChild(li);
            });
            panel.appendChild(list);
        });
    }

    function restore(id) {
        if (E.status.unsaved > 0) {
            message("Save or discard your unsaved edits before restoring a version.", "warning");
            return;
        }
        enqueue(function () {
            return request("POST", "/versions/" + encodeURIComponent(id) + "/restore", {}).then(function (r) {
                if (!r.ok) { message(r.data.error || ("Not restored (" + r.status + ")."), "danger"); return; }
                message("Restored version #" + id + " (as a new version).", "success");
                return loadStatus().then(refreshViewers).then(function () { bumpVersion(null); return loadHistory(); });
            });
        });
    }

    function toggleHistory() {
        var panel = $(IDS.HISTORY);
        if (!panel) { return; }
        E.history = panel.hidden;
        panel.hidden = !E.history;
        if (E.history) { loadHistory(); }
    }

    // ------------------------------------------------------------------ edit mode

    function allowed() { return !!(E.cfg && E.cfg.can_edit && E.cfg.api); }

    function setMode(on) {
        on = !!on && allowed();
        if (on === E.on) { return; }
        E.on = on;
        pmm.layers.sessions().forEach(function (s) {
            var map = pmm.layers.map(s);
            if (map && map.boxZoom) { if (on) { map.boxZoom.disable(); } else { map.boxZoom.enable(); } }
        });
        if (!on) { clearPick(); }
        if (on) {
            state.get().sessions.forEach(function (s) { if (!E.ann[s]) { fetchAnnotations(s); } fetchTracing(s); });
            message("Edit mode: Shift+click adds a spine, drag moves one, ? lists every key.", "secondary");
        } else {
            message("");
        }
        indicator();
    }

    function edit(run) {
        return function (e) {
            if (!E.on) { return false; }
            run(e);
            return true;
        };
    }

    // the keys (pmm.keys.KEYS rows: the ? help lists them); Ctrl/⌘ ones are handled below
    var K = pmm.keys.KEYS;
    var MOUSE = pmm.keys.MOUSE;
    var idx = K.length - 1;   // before "?"
    [
        {keys: ["e", "E"], label: "E", what: "edit mode on/off (if you may edit this map)", run: function () {
            if (!allowed()) { return false; }
            setMode(!E.on);
            return true;
        }},
        {keys: ["Delete", "Backspace"], label: "Delete", what: "edit mode: delete the selected spine", run: edit(deleteSelected)},
        {keys: ["b", "B"], label: "B", what: "edit mode: bad on/off", run: edit(toggleBad)},
        {keys: ["n", "N"], label: "N", what: "edit mode: note", run: edit(editNote)},
        {keys: ["t", "T"], label: "T", what: "edit mode: user type", run: edit(editUserType)},
        {keys: ["c", "C"], label: "C", what: "edit mode: connect the selected spine to the one Alt+clicked in the session before or after", run: edit(connect)},
        {keys: ["x", "X"], label: "X", what: "edit mode: disconnect the selected spine from the next session (Alt+click one in the previous session to disconnect that link)", run: edit(disconnect)},
        {keys: [], label: "Ctrl/⌘ Z", what: "edit mode: undo", run: function () { return false; }},
        {keys: [], label: "Ctrl/⌘ Shift Z", what: "edit mode: redo (also Ctrl Y)", run: function () { return false; }},
        {keys: [], label: "Ctrl/⌘ S", what: "save your edits to the map", run: function () { return false; }}
    ].forEach(function (row) { K.splice(idx, 0, row); idx += 1; });
    if (MOUSE) {
        MOUSE.push(["edit mode: Shift + click", "add a spine on this plane (nearest tracing segment)"]);
        MOUSE.push(["edit mode: drag a spine", "move it"]);
        MOUSE.push(["edit mode: Alt + click a spine", "pick it to connect with the selected spine"]);
    }

    function isTextField(el) {
        if (!el) { return false; }
        var tag = (el.tagName || "").toLowerCase();
        return tag === "input" || tag === "textarea" || tag === "select" || !!el.isContentEditable;
    }

    document.addEventListener("keydown", function (e) {
        var what = X.shortcut(e);
        if (!what || !allowed() || !document.querySelector(".pmm-viewer")) { return; }
        if (isTextField(e.target)) { return; }
        if (what === "save") { e.preventDefault(); save(); return; }
        if (!E.on) { return; }
        e.preventDefault();
        undoRedo(what, e.timeStamp);
    }, true);

    // Esc also drops the pick (50-pmm-keys.js clears the selection)
    document.addEventListener("keydown", function (e) { if (e.key === "Escape" && E.pick) { clearPick(); message(""); } });

    document.addEventListener("click", function (e) {
        var b = e.target.closest && e.target.closest("button");
        if (!b) { return; }
        if (b.id === IDS.TOGGLE) { setMode(!E.on); } else if (b.id === IDS.SAVE) { save(); } else if (b.id === IDS.UNDO) {
            undoRedo("undo", e.timeStamp);
        } else if (b.id === IDS.REDO) { undoRedo("redo", e.timeStamp); } else if (b.id === IDS.DISCARD) { discard(); } else if (b.id === IDS.HISTORY_OPEN) {
            toggleHistory();
        } else if (b.classList.contains("pmm-edit-restore")) { restore(b.getAttribute("data-version")); }
    });

    // ------------------------------------------------------------------ mouse: add, drag, pick

    // a spine clicked (30-pmm-spines.js asks first): true when the edit mode took the click
    function onSpineClick(e, m, s) {
        if (!E.on) { return false; }
        var oe = e.originalEvent || {};
        if (m._pmmDragged) { m._pmmDragged = false; return true; }
        if (oe.shiftKey) { addSpine(s, e.latlng, oe.timeStamp || performance.now()); return true; }
        if (oe.altKey) {
            if (!m.feature.properties.ghost) { setPick(s, m); }
            return true;
        }
        return false;
    }

    function onSpineDown(e) {
        var m = e.target;
        var oe = e.originalEvent;
        var s = m._pmmSession;
        if (!E.on || !oe || oe.button !== 0 || oe.shiftKey || oe.altKey || m.feature.properties.ghost) { return; }
        var map = pmm.layers.map(s);
        if (!map) { return; }
        var start = {x: oe.clientX, y: oe.clientY};
        var from = m.getLatLng();
        var moved = false;
        map.dragging.disable();
        var move = function (ev) {
            if (!moved && Math.abs(ev.clientX - start.x) + Math.abs(ev.clientY - start.y) < 4) { return; }
            moved = true;
            m.setLatLng(map.mouseEventToLatLng(ev));
        };
        var up = function (ev) {
            document.removeEventListener("mousemove", move, true);
            document.removeEventListener("mouseup", up, true);
            map.dragging.enable();
            if (!moved) { return; }
            m._pmmDragged = true;
            setTimeout(function () { m._pmmDragged = false; }, 0);
            var to = map.mouseEventToLatLng(ev);
            if (to.equals(from)) { return; }
            moveSpine(s, m, to, ev.timeStamp);
        };
        document.addEventListener("mousemove", move, true);
        document.addEventListener("mouseup", up, true);
        window.L.DomEvent.preventDefault(oe);
    }

    var spineToLayer = pmm.spineToLayer;
    pmm.spineToLayer = function (feature, latlng, context) {
        var m = spineToLayer(feature, latlng, context);
        m.on("mousedown", onSpineDown);
        return m;
    };

    pmm.layers.on(function (ev) {
        if (ev.type !== "viewer") { return; }
        var s = ev.session;
        if (E.on && ev.map.boxZoom) { ev.map.boxZoom.disable(); }
        ev.map.on("click", function (e) {
            var oe = e.originalEvent || {};
            if (E.on && oe.shiftKey) { addSpine(s, e.latlng, oe.timeStamp || performance.now()); }
        });
        // a viewer (re)built from the saved map shows the working copy while edits are unsaved
        if (E.status.unsaved > 0 || E.on) {
            delete E.ann[s];
            pmm.afterPaint(function () {
                fetchAnnotations(s).then(function (ann) { if (ann && E.status.unsaved > 0) { showAnnotations(s, ann); } });
            });
        }
    });

    // the plot redrawn after an edit: pmm:edit-plot
    function hookPlot() {
        var gd = document.querySelector("#" + pmm.ids.PLOT + " .js-plotly-plot");
        if (!gd || gd._pmmEditHooked || !gd.on) { return; }
        gd._pmmEditHooked = true;
        // a new figure (Dash's Plotly.react: new data), not a restyle of ours
        gd.on("plotly_afterplot", function () { if (gd.data !== E.plot.data) { plotLanded(gd); } });
        if (gd.data && gd.data !== E.plot.data) { plotLanded(gd); }
    }

    // ------------------------------------------------------------------ start, leave

    // the EDIT_CONFIG store (callbacks/map_edit.py) -> the edit mode's settings; on a new map
    // the server's log is read: unsaved edits are shown over the saved map
    function configure(cfg) {
        var key = cfg ? cfg.api : null;
        if (E.cfg && E.cfg.api === key) { E.cfg = cfg; indicator(); return; }
        E.cfg = cfg;
        E.on = false;
        E.ann = {};
        E.tracing = {};
        E.status = {unsaved: 0, oldest_unsaved: null, can_undo: false, can_redo: false, version: null, base_version: null, others: []};
        clearPick();
        if (!allowed()) { indicator(); return; }
        loadStatus().then(function (d) {
            if (d && d.unsaved > 0) {
                message("You have " + d.unsaved + " unsaved change" + (d.unsaved === 1 ? "" : "s") +
                    " on this map (kept on the server): they are shown over the saved map.", "info");
                return refreshViewers().then(function () { bumpVersion(null); });
            }
        });
    }

    window.addEventListener("beforeunload", function (e) {
        if (E.leaving || !allowed() || !(E.status.unsaved > 0 || E.busy)) { return; }
        e.preventDefault();
        e.returnValue = "";
        return "";
    });

    setInterval(function () {
        if (!allowed() || document.hidden) { return; }
        loadStatus();
    }, POLL_MS);
    setInterval(indicator, 5000);
    document.addEventListener("visibilitychange", function () { if (!document.hidden && allowed()) { loadStatus(); } });

    window.dash_clientside = Object.assign({}, window.dash_clientside);
    window.dash_clientside.pmm_edit = {
        // EDIT_CONFIG -> the edit mode (callbacks/map_edit.py)
        config: function (cfg) {
            hookPlot();
            configure(cfg && cfg.api ? cfg : null);
            return window.dash_clientside.no_update;
        }
    };
    state.on(function () { hookPlot(); });

    pmm.edit = {
        IDS: IDS,
        onSpineClick: onSpineClick,
        /** The edit mode's state (read only): {on, status, pick, busy, ...}. */
        get: function () { return E; },
        setMode: setMode,
        selected: selected,
        /** Read the server's state of my edits and who else edits (also every POLL_MS). */
        refresh: function () { return allowed() ? loadStatus() : Promise.resolve(null); },
        /** Settled: no request in flight (tests and benchmarks wait for it). */
        idle: function () { return E.busy === 0; }
    };
}());
