// The API documentation page (/api/docs): Swagger UI on the generated openapi.json.
(function () {
    "use strict";
    var me = document.currentScript;
    var url = me && me.getAttribute("data-spec-url");
    if (!url || typeof window.SwaggerUIBundle !== "function") {
        return;
    }
    window.pmmApiDocs = window.SwaggerUIBundle({
        url: url,
        dom_id: "#swagger-ui",
        deepLinking: true,
        persistAuthorization: false,
    });
})();
