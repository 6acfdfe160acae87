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

size_t sk_req_pack(const sk_req_t *req, char *out, size_t cap) {
  const sk_http_request_t *http = req->http;
  size_t headers = sk_req_headers_pack(req, NULL, 0);
  size_t need = http->method.len + http->path.len + http->query.len + 5 + headers;
  if (need > cap || out == NULL) return need;
  char *p = out;
  const sk_slice_t *line[3] = {&http->method, &http->path, &http->query};
  for (int i = 0; i < 3; i++) {
    if (line[i]->len) memcpy(p, line[i]->data, line[i]->len);
    p += line[i]->len;
    *p++ = '\0';
  }
  *p++ = http->version_minor == 0 ? '0' : '1';
  *p++ = '\0';
  sk_req_headers_pack(req, p, headers);
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

int sk_req_is_ancient(const sk_req_t *req) {
  return req->http->version_minor == 0;
}
