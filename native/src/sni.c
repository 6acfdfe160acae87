/* SNI: per-hostname TLS contexts and routers. A TLS client names the host it
 * wants in its ClientHello; the matching entry's certificate is used for the
 * handshake and its routes are tried before the app's own. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

/* '*' matches one or more characters within a single label. */
static int host_matches(const char *pattern, const char *host) {
  while (*pattern) {
    if (*pattern == '*') {
      pattern++;
      if (*host == '\0' || *host == '.') return 0;
      while (*host && *host != '.') {
        if (host_matches(pattern, host + 1)) return 1;
        host++;
      }
      continue;
    }
    if (sk_ascii_lower(*pattern) != sk_ascii_lower(*host)) return 0;
    pattern++;
    host++;
  }
  return *host == '\0';
}

static int same_host(const char *a, const char *b) {
  while (*a && sk_ascii_lower(*a) == sk_ascii_lower(*b)) {
    a++;
    b++;
  }
  return *a == '\0' && *b == '\0';
}

/* Index of the live entry for exactly this pattern, or -1. */
static long find_pattern(const sk_app_t *app, const char *pattern) {
  for (size_t i = 0; i < app->sni_count; i++)
    if (app->sni[i].pattern && same_host(app->sni[i].pattern, pattern)) return (long)i;
  return -1;
}

/* Exact names win over wildcard patterns. */
static long find_host(const sk_app_t *app, const char *host) {
  long wildcard = -1;
  for (size_t i = 0; i < app->sni_count; i++) {
    const char *pattern = app->sni[i].pattern;
    if (!pattern) continue;
    if (same_host(pattern, host)) return (long)i;
    if (wildcard < 0 && strchr(pattern, '*') && host_matches(pattern, host)) wildcard = (long)i;
  }
  return wildcard;
}

static int on_servername(SSL *ssl, int *alert, void *arg) {
  (void)alert;
  sk_app_t *app = arg;
  sk_conn_t *conn = SSL_get_app_data(ssl);
  const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!host || !conn) return SSL_TLSEXT_ERR_OK;
  long index = find_host(app, host);
  if (index < 0 && app->cb.on_missing_server_name) {
    /* The application may add the name right now (certificates on demand). */
    app->cb.on_missing_server_name(app->cb.user, host, strlen(host));
    index = find_host(app, host);
  }
  if (index < 0) return SSL_TLSEXT_ERR_OK; /* the default certificate answers */
  conn->sni_entry = (uint32_t)index + 1;
  if (app->sni[index].ctx) SSL_set_SSL_CTX(ssl, app->sni[index].ctx);
  return SSL_TLSEXT_ERR_OK;
}

void sk_sni_enable(sk_app_t *app, struct ssl_ctx_st *ctx) {
  SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
  SSL_CTX_set_tlsext_servername_arg(ctx, app);
}

int sk_app_add_server_name(sk_app_t *app, const char *pattern, const sk_tls_options_t *options,
                           char *err, size_t err_cap) {
  if (!pattern || !*pattern) return SK_ERR_INVALID;
  if (!app->tls_ctx) {
    if (err && err_cap) snprintf(err, err_cap, "server names need a TLS app (AppOptions)");
    return SK_ERR_STATE;
  }
  struct ssl_ctx_st *ctx = NULL;
  if (options) {
    ctx = sk_tls_context_create(options, err, err_cap);
    if (!ctx) return SK_ERR_INVALID;
    sk_sni_enable(app, ctx);
  }
  long existing = find_pattern(app, pattern);
  if (existing >= 0) {
    /* Same name again: new certificate, same routes. */
    sk_sni_entry_t *entry = &app->sni[existing];
    if (ctx) {
      sk_tls_context_free(entry->ctx);
      entry->ctx = ctx;
    }
    return SK_OK;
  }
  if (app->sni_count == app->sni_cap) {
    void *grown = sk_array_grow(app->sni, &app->sni_cap, sizeof *app->sni, 8);
    if (!grown) goto nomem;
    app->sni = grown;
  }
  sk_sni_entry_t *entry = &app->sni[app->sni_count];
  memset(entry, 0, sizeof *entry);
  entry->pattern = strdup(pattern);
  entry->router = sk_router_create();
  if (!entry->pattern || !entry->router) {
    free(entry->pattern);
    if (entry->router) sk_router_destroy(entry->router);
    entry->pattern = NULL;
    goto nomem;
  }
  entry->ctx = ctx;
  app->sni_count++;
  return SK_OK;
nomem:
  sk_tls_context_free(ctx);
  return SK_ERR_NOMEM;
}

int sk_app_remove_server_name(sk_app_t *app, const char *pattern) {
  long index = find_pattern(app, pattern);
  if (index < 0) return SK_ERR_INVALID;
  sk_sni_entry_t *entry = &app->sni[index];
  /* Entries are never moved: connections refer to them by index. A removed
   * one keeps its (now unused) router until the app goes away; handshakes
   * in progress hold their own reference to the context. */
  free(entry->pattern);
  entry->pattern = NULL;
  sk_tls_context_free(entry->ctx);
  entry->ctx = NULL;
  return SK_OK;
}

int sk_app_route_server_name(sk_app_t *app, const char *pattern, const char *method,
                             size_t method_len, const char *path, size_t path_len, int handler_id) {
  long index = find_pattern(app, pattern);
  if (index < 0) return SK_ERR_INVALID;
  return sk_app_add_route(app->sni[index].router, method, method_len, path, path_len, handler_id);
}

const sk_router_t *sk_sni_router(const sk_app_t *app, uint32_t sni_entry) {
  if (sni_entry == 0 || sni_entry > app->sni_count) return NULL;
  const sk_sni_entry_t *entry = &app->sni[sni_entry - 1];
  return entry->pattern ? entry->router : NULL;
}

void sk_sni_free(sk_app_t *app) {
  for (size_t i = 0; i < app->sni_count; i++) {
    free(app->sni[i].pattern);
    sk_tls_context_free(app->sni[i].ctx);
    sk_router_destroy(app->sni[i].router);
  }
  free(app->sni);
  app->sni = NULL;
  app->sni_count = app->sni_cap = 0;
}
