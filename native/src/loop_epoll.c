/* epoll backend (Linux). Level-triggered: a socket whose input we leave
 * unread (paused, buffer full) has its read interest removed instead. */
#ifdef __linux__
#include "internal.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define SK_EPOLL_BATCH 256

static void on_tick_event(sk_watch_t *watch, unsigned events) {
  (void)events;
  sk_loop_t *loop = (sk_loop_t *)((char *)watch - offsetof(sk_loop_t, tick_watch));
  uint64_t expirations = 0;
  if (read(loop->tick_fd, &expirations, sizeof expirations) != (ssize_t)sizeof expirations) return;
  loop->now_ticks += expirations;
  if (loop->on_tick) loop->on_tick(loop->ctx);
}

int sk_backend_init(sk_loop_t *loop) {
  loop->backend_fd = epoll_create1(EPOLL_CLOEXEC);
  if (loop->backend_fd < 0) return SK_ERR_SYSTEM;
  loop->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (loop->tick_fd < 0) {
    sk_backend_free(loop);
    return SK_ERR_SYSTEM;
  }
  loop->tick_watch.fd = loop->tick_fd;
  loop->tick_watch.interest = 0;
  loop->tick_watch.on_event = on_tick_event;
  if (sk_loop_add(loop, &loop->tick_watch, SK_EV_READ) != SK_OK) {
    sk_backend_free(loop);
    return SK_ERR_SYSTEM;
  }
  return SK_OK;
}

void sk_backend_free(sk_loop_t *loop) {
  if (loop->tick_fd >= 0) close(loop->tick_fd);
  if (loop->backend_fd >= 0) close(loop->backend_fd);
  loop->tick_fd = loop->backend_fd = -1;
}

int sk_backend_ctl(sk_loop_t *loop, sk_watch_t *watch, unsigned old_interest,
                   unsigned new_interest) {
  struct epoll_event event = {0};
  event.data.ptr = watch;
  if (new_interest & SK_EV_READ) event.events |= EPOLLIN | EPOLLRDHUP;
  if (new_interest & SK_EV_WRITE) event.events |= EPOLLOUT;
  int op;
  if (old_interest == 0 && new_interest == 0) {
    /* Registered with no interest (watching errors only) or never added:
     * a DEL on an fd never added fails harmlessly. */
    op = EPOLL_CTL_DEL;
  } else if (old_interest == 0) {
    op = EPOLL_CTL_ADD;
  } else if (new_interest == 0) {
    op = EPOLL_CTL_DEL;
  } else {
    op = EPOLL_CTL_MOD;
  }
  if (epoll_ctl(loop->backend_fd, op, watch->fd, &event) < 0) {
    if (op == EPOLL_CTL_DEL) return SK_OK;
    if (op == EPOLL_CTL_ADD && errno == EEXIST &&
        epoll_ctl(loop->backend_fd, EPOLL_CTL_MOD, watch->fd, &event) == 0)
      return SK_OK;
    return SK_ERR_SYSTEM;
  }
  return SK_OK;
}

int sk_backend_wait(sk_loop_t *loop, int timeout_ms) {
  struct epoll_event events[SK_EPOLL_BATCH];
  int blocking = timeout_ms != 0 && loop->before_block;
  if (blocking) loop->before_block();
  int count = epoll_wait(loop->backend_fd, events, SK_EPOLL_BATCH, timeout_ms);
  int wait_errno = errno;
  if (blocking) loop->after_block();
  if (count < 0) return wait_errno == EINTR ? 0 : SK_ERR_SYSTEM;
  for (int i = 0; i < count; i++) {
    sk_watch_t *watch = events[i].data.ptr;
    unsigned mask = 0;
    if (events[i].events & (EPOLLIN | EPOLLRDHUP)) mask |= SK_EV_READ;
    if (events[i].events & EPOLLOUT) mask |= SK_EV_WRITE;
    if (events[i].events & (EPOLLERR | EPOLLHUP)) mask |= SK_EV_ERROR;
    watch->on_event(watch, mask);
  }
  return count;
}

int sk_backend_set_tick(sk_loop_t *loop, int armed) {
  struct itimerspec spec = {0};
  if (armed) {
    spec.it_value.tv_sec = 1;
    spec.it_interval.tv_sec = 1;
  }
  return timerfd_settime(loop->tick_fd, 0, &spec, NULL) == 0 ? SK_OK : SK_ERR_SYSTEM;
}
#endif
