/* Growable byte buffer: used only off the hot path (partial heads, unsent
 * output, early request bodies), so plain malloc growth is enough. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int sk_buf_reserve(sk_buf_t *buf, size_t extra) {
  if (extra > SIZE_MAX - buf->len) return SK_ERR_NOMEM;
  size_t need = buf->len + extra;
  if (need <= buf->cap) return SK_OK;
  size_t cap = buf->cap ? buf->cap : 4096;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) {
      cap = need;
      break;
    }
    cap *= 2;
  }
  char *data = realloc(buf->data, cap);
  if (!data) return SK_ERR_NOMEM;
  buf->data = data;
  buf->cap = cap;
  return SK_OK;
}

int sk_buf_append(sk_buf_t *buf, const void *data, size_t len) {
  if (len == 0) return SK_OK;
  int status = sk_buf_reserve(buf, len);
  if (status != SK_OK) return status;
  memcpy(buf->data + buf->len, data, len);
  buf->len += len;
  return SK_OK;
}

void sk_buf_consume(sk_buf_t *buf, size_t len) {
  if (len >= buf->len) {
    /* Give big buffers back: an idle connection should cost next to nothing. */
    if (buf->cap > 64 * 1024) sk_buf_free(buf);
    buf->len = 0;
    return;
  }
  memmove(buf->data, buf->data + len, buf->len - len);
  buf->len -= len;
}

void sk_buf_free(sk_buf_t *buf) {
  free(buf->data);
  buf->data = NULL;
  buf->len = 0;
  buf->cap = 0;
}

void *sk_array_grow(void *items, size_t *cap, size_t item_size, size_t first_cap) {
  size_t grown_cap = *cap ? *cap * 2 : first_cap;
  if (grown_cap <= *cap || grown_cap > SIZE_MAX / item_size) return NULL;
  void *grown = realloc(items, grown_cap * item_size);
  if (grown) *cap = grown_cap;
  return grown;
}
