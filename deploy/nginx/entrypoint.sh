#!/bin/sh
# Render the site from its template (only our variables), check it, run nginx in the foreground.
set -eu
vars='${LISTEN_PORT} ${URL_PREFIX} ${APP_SERVERS} ${CLIENT_MAX_BODY_SIZE} ${NGINX_CACHE_DIR}'
envsubst "$vars" < /etc/nginx/templates/pymapmanager.conf.template > /etc/nginx/conf.d/pymapmanager.conf
mkdir -p "$NGINX_CACHE_DIR"
nginx -t -q
exec nginx -g 'daemon off;'
