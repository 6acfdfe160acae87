/* PROXY protocol header parser (HAProxy spec, versions 1 and 2): a load
 * balancer in front of us announces the real client address in the first
 * bytes of the connection. A pure function of its input. */
#ifndef SK_PROXY_PROTOCOL_H
#define SK_PROXY_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define SK_PROXY_NONE 0       /* the input does not start with a PROXY header */
#define SK_PROXY_INCOMPLETE 1 /* it may: more bytes are needed */
#define SK_PROXY_COMPLETE 2   /* parsed; *consumed bytes belong to it */
#define SK_PROXY_ERROR (-400) /* a malformed PROXY header */

typedef struct sk_proxy_address {
  int family;          /* 4, 6, or 0 when the header carries no address (LOCAL/UNKNOWN) */
  uint8_t address[16]; /* source address, network order (4 or 16 bytes used) */
  uint16_t port;       /* source port, host order */
} sk_proxy_address_t;

int sk_proxy_parse(const char *buf, size_t len, sk_proxy_address_t *out, size_t *consumed);

#endif
