/* Read access to the request being dispatched. The slices point into the
 * receive buffer, so they are valid only inside on_request. */
#include "internal.h"

#include <string.h>

const char *sk_req_method(const sk_req_t *req, size_t *len) {
  *len = req->http->method.len;
  return req->http->method.data;
}

const char *sk_req_url(const sk_req_t *req, size_t *len) {
  *len = req->http->path.len;
  return req->http->path.data;
}

const char *sk_req_query(const sk_req_t *req, size_t *len) {
  *len = req->http->query.len;
  return req->http->query.len ? req->http->query.data : "";
}

const char *sk_req_header(const sk_req_t *req, const char *lower_name, size_t name_len,
                          size_t *len) {
  const sk_http_request_t *http = req->http;
  for (size_t i = 0; i < http->header_count; i++) {
    const sk_slice_t *name = &http->headers[i].name;
    if (name->len != name_len) continue;
    size_t j = 0;
    while (j < name_len && sk_ascii_lower(name->data[j]) == lower_name[j]) j++;
    if (j == name_len) {
      *len = http->headers[i].value.len;
      return http->headers[i].value.len ? http->headers[i].value.data : "";
    }
  }
  *len = 0;
  return NULL;
}

size_t sk_req_header_count(const sk_req_t *req) {
  return req->http->header_count;
}

size_t sk_req_headers_pack(const sk_req_t *req, char *out, size_t cap) {
  const sk_http_request_t *http = req->http;
  size_t need = 0;
  for (size_t i = 0; i < http->header_count; i++)
    need += http->headers[i].name.len + http->headers[i].value.len + 2;
  if (need > cap || out == NULL) return need;
  char *p = out;
  for (size_t i = 0; i < http->header_count; i++) {
    const sk_http_header_t *h = &http->headers[i];
    for (size_t j = 0; j < h->name.len; j++) *p++ = sk_ascii_lower(h->name.data[j]);
    *p++ = '\0';
    if (h->value.len) memcpy(p, h->value.data, h->value.len);
    p += h->value.len;
    *p++ = '\0';
  }
  return need;
}

size_t sk_req_params_pack(const sk_req_t *req, char *out, size_t cap) {
  const sk_route_params_t *params = req->params;
  size_t count = params ? params->count : 0;
  size_t need = 0;
  for (size_t i = 0; i < count; i++) need += params->value_len[i] + 1;
  if (need > cap || out == NULL) return need;
  char *p = out;
  for (size_t i = 0; i < count; i++) {
    if (params->value_len[i]) memcpy(p, params->value[i], params->value_len[i]);
    p += params->value_len[i];
    *p++ = '\0';
  }
  return need;
}

size_t sk_req_param_count(const sk_req_t *req) {
  return req->params ? req->params->count : 0;
}

const char *sk_req_param(const sk_req_t *req, size_t index, size_t *len) {
  if (!req->params || index >= req->params->count) {
    *len = 0;
    return NULL;
  }
  *len = req->params->value_len[index];
  return req->params->value_len[index] ? req->params->value[index] : "";
}

int sk_req_handler_id(const sk_req_t *req) {
  return req->handler_id;
}

size_t sk_req_pack(const sk_req_t *req, char *out, size_t cap) {
  const sk_http_request_t *http = req->http;
  /* The flag, then the count in decimal (written backwards, then turned). */
  char count[24];
  size_t count_len = 0;
  size_t n = http->header_count;
  do {
    count[count_len++] = (char)('0' + n % 10);
    n /= 10;
  } while (n && count_len < sizeof count - 1);
  count[count_len++] = http->version_minor == 0 ? '1' : '0';
  for (size_t i = 0; i < count_len / 2; i++) {
    char c = count[i];
    count[i] = count[count_len - 1 - i];
    count[count_len - 1 - i] = c;
  }
  size_t head = http->method.len + http->path.len + http->query.len + 3 + count_len + 1;
  size_t headers = sk_req_headers_pack(req, NULL, 0);
  size_t params = sk_req_params_pack(req, NULL, 0);
  size_t need = head + headers + params;
  if (need > cap || out == NULL) return need;
  const sk_slice_t *slices[3] = {&http->method, &http->path, &http->query};
  char *p = out;
  for (int i = 0; i < 3; i++) {
    if (slices[i]->len) memcpy(p, slices[i]->data, slices[i]->len);
    p += slices[i]->len;
    *p++ = '\0';
  }
  memcpy(p, count, count_len);
  p += count_len;
  *p++ = '\0';
  p += sk_req_headers_pack(req, p, headers);
  sk_req_params_pack(req, p, params);
  return need;
}

int sk_req_is_ancient(const sk_req_t *req) {
  return req->http->version_minor == 0;
}

/* One field of the scope pack: the bytes and a NUL, when they fit. */
static size_t put_field(char *out, size_t cap, size_t at, const char *data, size_t len) {
  if (out && at + len + 1 <= cap) {
    if (len) memcpy(out + at, data, len);
    out[at + len] = '\0';
  }
  return at + len + 1;
}

size_t sk_req_scope_pack(sk_app_t *app, sk_res_id_t res, const sk_req_t *req, char *out,
                         size_t cap) {
  const sk_http_request_t *http = req->http;
  sk_conn_t *conn = sk_app_lookup(app, res);
  char flags[3] = {http->version_minor ? '1' : '0', '0', '0'};
  /* RFC 9110 6.5.1: trailers only for a client that said it accepts them. */
  size_t te_len = 0;
  const char *te = sk_req_header(req, "te", 2, &te_len);
  for (size_t i = 0; te && i + 8 <= te_len; i++)
    if (memcmp(te + i, "trailers", 8) == 0) flags[2] = '1';
  char ip[64] = "";
  char port[8] = "";
  int ip_len = 0, port_len = 0;
  if (conn) {
    flags[1] = conn->exchange.body_done ? '0' : '1';
    ip_len = sk_socket_format_address(&conn->peer, ip, sizeof ip, 1);
    if (ip_len < 0) ip_len = 0;
    int port_number = sk_socket_port(&conn->peer);
    if (ip_len > 0 && port_number >= 0) {
      /* at most 5 digits */
      char reversed[8];
      do {
        reversed[port_len++] = (char)('0' + port_number % 10);
        port_number /= 10;
      } while (port_number && port_len < 5);
      for (int i = 0; i < port_len; i++) port[i] = reversed[port_len - 1 - i];
    }
  }
  size_t at = 0;
  at = put_field(out, cap, at, flags, 3);
  at = put_field(out, cap, at, http->method.data, http->method.len);
  at = put_field(out, cap, at, http->path.data, http->path.len);
  at = put_field(out, cap, at, http->query.len ? http->query.data : "", http->query.len);
  at = put_field(out, cap, at, ip, (size_t)ip_len);
  at = put_field(out, cap, at, port, (size_t)port_len);
  size_t need = at + sk_req_headers_pack(req, NULL, 0);
  if (need > cap || out == NULL) return need;
  sk_req_headers_pack(req, out + at, cap - at);
  return need;
}
