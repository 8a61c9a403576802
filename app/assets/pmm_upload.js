// The upload widget (app/components/upload.py): Uppy's dashboard + Tus plugin against our
// tus endpoint (/api/v1/uploads/<owner>), then one import per map (a zip, or the files of one
// folder). The vendored Uppy bundle (assets/vendor/uppy/) is loaded only when the widget is
// on the page. Resuming: tus-js-client retries a broken chunk (HEAD for the offset, then
// PATCH from there) and remembers each file's upload in localStorage, so a file added again
// after a reload or a server restart goes on from what the server already has.
(function () {
    "use strict";

    // large chunks: fewer requests (each is a PATCH of a slice of the file, never held whole)
    var CHUNK = 32 * 1024 * 1024;
    var state = { owner: null, uppy: null, widget: null };

    function loadUppy(assets, done) {
        if (window.Uppy && window.Uppy.Uppy) {
            done();
            return;
        }
        var css = document.createElement("link");
        css.rel = "stylesheet";
        css.href = assets + "vendor/uppy/uppy.min.css";
        document.head.appendChild(css);
        var s = document.createElement("script");
        s.src = assets + "vendor/uppy/uppy.min.js";
        s.onload = done;
        document.head.appendChild(s);
    }

    function setProps(id, props) {
        if (window.dash_clientside && window.dash_clientside.set_props) {
            window.dash_clientside.set_props(id, props);
        }
    }

    function li(text) {
        return { type: "Li", namespace: "dash_html_components", props: { children: text } };
    }

    function line(text, cls, items) {
        var children = [text];
        if (items && items.length) {
            children.push({ type: "Ul", namespace: "dash_html_components", props: { children: items, className: "mb-1" } });
        }
        return { type: "Div", namespace: "dash_html_components", props: { children: children, className: cls } };
    }

    function endpoint(widget) {
        return widget.getAttribute("data-api") + "uploads/" + encodeURIComponent(state.owner || "");
    }

    function uploadId(file) {
        var url = (file.response && file.response.uploadURL) || (file.tus && file.tus.uploadUrl) || "";
        return url.replace(/\/+$/, "").split("/").pop();
    }

    // files -> one import request per map: each zip alone; other files grouped by their top folder
    function batches(files) {
        var out = [];
        var folders = {};
        files.forEach(function (f) {
            var rel = (f.meta && f.meta.relativePath) || "";
            if (/\.zip$/i.test(f.name) && !rel) {
                out.push({ label: f.name, ids: [uploadId(f)] });
                return;
            }
            var top = rel ? rel.replace(/^\/+/, "").split("/")[0] : f.name;
            if (!folders[top]) {
                folders[top] = { label: top + "/", ids: [] };
                out.push(folders[top]);
            }
            folders[top].ids.push(uploadId(f));
        });
        return out;
    }

    // poll an import job (its status_url) until it is done or failed; the result line
    // shows its state meanwhile
    function waitJob(label, job, resultId, lines) {
        var delay = 200;
        var words = { queued: "waiting to import", running: "importing (checking and validating the map)" };
        function step(job) {
            if (job.state === "done") {
                return { ok: true, body: job.result };
            }
            if (job.state === "failed") {
                return { ok: false, body: job.error || { message: "the import failed" } };
            }
            setProps(resultId, { children: lines.concat([line(label + ": " + (words[job.state] || job.state) + "…", "text-muted")]) });
            return new Promise(function (resolve) {
                setTimeout(resolve, delay);
            }).then(function () {
                delay = Math.min(delay * 1.5, 2000);
                return fetch(job.status_url, { credentials: "same-origin", cache: "no-store" })
                    .then(function (r) {
                        if (!r.ok) {
                            return { state: "failed", error: { message: "the import's status is not available (" + r.status + ")" } };
                        }
                        return r.json();
                    })
                    .then(step);
            });
        }
        return step(job);
    }

    function importAll(widget, files) {
        var overwrite = document.getElementById(widget.getAttribute("data-overwrite-id"));
        var resultId = widget.getAttribute("data-result-id");
        var lines = [];
        var made = false;
        var jobs = batches(files).map(function (b) {
            return fetch(endpoint(widget) + "/import", {
                method: "POST",
                credentials: "same-origin",
                headers: { "Content-Type": "application/json" },
                body: JSON.stringify({ uploads: b.ids, overwrite: !!(overwrite && overwrite.checked) }),
            })
                .then(function (r) {
                    return r.json().then(function (body) {
                        return { ok: r.ok, status: r.status, body: body };
                    });
                })
                .then(function (res) {
                    // 202: the import runs as a job on the server; wait for its verdict
                    return res.status === 202 ? waitJob(b.label, res.body, resultId, lines) : res;
                })
                .then(function (res) {
                    if (res.ok) {
                        made = true;
                        lines.push(line(b.label + ": imported as " + res.body.id, "text-success"));
                    } else {
                        var items = (res.body.problems || []).map(function (p) {
                            return li((p.file || "-") + (p.line != null ? ":" + p.line : "") + ": " + p.problem);
                        });
                        lines.push(line(b.label + ": " + (res.body.message || "refused"), "text-danger", items));
                    }
                })
                .catch(function (e) {
                    lines.push(line(b.label + ": " + e, "text-danger"));
                });
        });
        Promise.all(jobs).then(function () {
            setProps(resultId, { children: lines });
            if (made) {
                setProps(widget.getAttribute("data-refresh-id"), { data: Date.now() });
            }
        });
    }

    function mount(widget) {
        var U = window.Uppy;
        var target = widget.querySelector(".pmm-upload-dashboard");
        var uppy = new U.Uppy({ id: "pmm-upload", autoProceed: false });
        uppy.use(U.Dashboard, {
            target: target,
            inline: true,
            height: 320,
            width: "100%",
            fileManagerSelectionType: "both",
            proudlyDisplayPoweredByUppy: false,
            showProgressDetails: true,
            note: "A zipped map folder (<map>.zip), or the map folder itself",
        });
        uppy.use(U.Tus, {
            endpoint: endpoint(widget),
            chunkSize: CHUNK,
            retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
            removeFingerprintOnSuccess: true,
            withCredentials: true,
            allowedMetaFields: ["name", "type", "filename", "filetype", "relativePath"],
        });
        uppy.on("file-added", function (file) {
            // a file of a folder picked with the browser's folder dialog
            var rel = file.data && file.data.webkitRelativePath;
            if (rel && !(file.meta && file.meta.relativePath)) {
                uppy.setFileMeta(file.id, { relativePath: rel });
            }
        });
        uppy.on("complete", function (result) {
            if (result.successful && result.successful.length) {
                importAll(widget, result.successful);
            }
        });
        state.uppy = uppy;
        window.pmmUppy = uppy; // for the browser tests
    }

    function setup() {
        var widget = document.querySelector(".pmm-upload[data-api]");
        if (!widget || widget === state.widget) {
            return;
        }
        state.widget = widget;
        state.uppy = null;
        loadUppy(widget.getAttribute("data-assets"), function () {
            if (document.body.contains(widget)) {
                mount(widget);
            }
        });
    }

    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.pmm_upload = {
        // the page's owner choice: uploads go to that owner's endpoint
        set_owner: function (owner) {
            state.owner = owner || null;
            setup();
            var widget = state.widget;
            if (state.uppy && widget) {
                state.uppy.getPlugin("Tus").setOptions({ endpoint: endpoint(widget) });
            }
            return owner || null;
        },
    };

    new MutationObserver(setup).observe(document.documentElement, { childList: true, subtree: true });
})();
