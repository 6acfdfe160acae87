/* kqueue backend (macOS, BSD). The tick is an EVFILT_TIMER on the same
 * kqueue, so the one backend fd still covers everything. */
/* SK_LINT_KQUEUE: `make lint-native` compiles it on Linux too, against a
 * stand-in <sys/event.h> (native/tests/kqueue_shim), for syntax and warnings. */
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) ||   \
    defined(SK_LINT_KQUEUE)
#include "internal.h"

#include <errno.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#define SK_KQUEUE_BATCH 256
#define SK_TICK_IDENT 1

int sk_backend_init(sk_loop_t *loop) {
  loop->backend_fd = kqueue();
  loop->tick_fd = -1;
  return loop->backend_fd < 0 ? SK_ERR_SYSTEM : SK_OK;
}

void sk_backend_free(sk_loop_t *loop) {
  if (loop->backend_fd >= 0) close(loop->backend_fd);
  loop->backend_fd = -1;
}

int sk_backend_ctl(sk_loop_t *loop, sk_watch_t *watch, unsigned old_interest,
                   unsigned new_interest) {
  struct kevent changes[2];
  int n = 0;
  if ((old_interest ^ new_interest) & SK_EV_READ) {
    EV_SET(&changes[n++], watch->fd, EVFILT_READ, (new_interest & SK_EV_READ) ? EV_ADD : EV_DELETE,
           0, 0, watch);
  }
  if ((old_interest ^ new_interest) & SK_EV_WRITE) {
    EV_SET(&changes[n++], watch->fd, EVFILT_WRITE,
           (new_interest & SK_EV_WRITE) ? EV_ADD : EV_DELETE, 0, 0, watch);
  }
  if (n == 0) return SK_OK;
  if (kevent(loop->backend_fd, changes, n, NULL, 0, NULL) < 0 && new_interest != 0)
    return SK_ERR_SYSTEM;
  return SK_OK;
}

int sk_backend_wait(sk_loop_t *loop, int timeout_ms) {
  struct kevent events[SK_KQUEUE_BATCH];
  struct timespec timeout, *timeout_ptr = NULL;
  if (timeout_ms >= 0) {
    timeout.tv_sec = timeout_ms / 1000;
    timeout.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
    timeout_ptr = &timeout;
  }
  int blocking = timeout_ms != 0 && loop->before_block;
  if (blocking) loop->before_block();
  int count = kevent(loop->backend_fd, NULL, 0, events, SK_KQUEUE_BATCH, timeout_ptr);
  int wait_errno = errno;
  if (blocking) loop->after_block();
  if (count < 0) return wait_errno == EINTR ? 0 : SK_ERR_SYSTEM;
  for (int i = 0; i < count; i++) {
    if (events[i].filter == EVFILT_TIMER) {
      loop->now_ticks += events[i].data > 0 ? (uint64_t)events[i].data : 1;
      if (loop->on_tick) loop->on_tick(loop->ctx);
      continue;
    }
    sk_watch_t *watch = events[i].udata;
    unsigned mask = events[i].filter == EVFILT_WRITE ? SK_EV_WRITE : SK_EV_READ;
    if (events[i].flags & EV_ERROR) mask |= SK_EV_ERROR;
    watch->on_event(watch, mask);
  }
  return count;
}

int sk_backend_set_tick(sk_loop_t *loop, int armed) {
  struct kevent change;
  EV_SET(&change, SK_TICK_IDENT, EVFILT_TIMER, armed ? EV_ADD : EV_DELETE, 0, 1000, NULL);
  return kevent(loop->backend_fd, &change, 1, NULL, 0, NULL) < 0 && armed ? SK_ERR_SYSTEM : SK_OK;
}
#endif
