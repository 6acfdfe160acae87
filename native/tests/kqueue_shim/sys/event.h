/* Test-only stand-in for the BSD <sys/event.h>: just the kqueue(2)
 * declarations native/src/loop_kqueue.c uses, so `make lint-native` can
 * compile that backend for syntax and warnings on Linux. Never linked. */
#ifndef SK_KQUEUE_SHIM_EVENT_H
#define SK_KQUEUE_SHIM_EVENT_H

#include <stdint.h>
#include <time.h>

struct kevent {
  uintptr_t ident; /* the fd, or the timer's id */
  int16_t filter;  /* EVFILT_* */
  uint16_t flags;  /* EV_* */
  uint32_t fflags;
  intptr_t data; /* EVFILT_TIMER: expirations since the last report */
  void *udata;
};

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_TIMER (-7)

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ERROR 0x4000

#define EV_SET(kevp, a, b, c, d, e, f)                                                             \
  do {                                                                                             \
    struct kevent *ev_ = (kevp);                                                                   \
    ev_->ident = (uintptr_t)(a);                                                                   \
    ev_->filter = (int16_t)(b);                                                                    \
    ev_->flags = (uint16_t)(c);                                                                    \
    ev_->fflags = (uint32_t)(d);                                                                   \
    ev_->data = (intptr_t)(e);                                                                     \
    ev_->udata = (f);                                                                              \
  } while (0)

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
           int nevents, const struct timespec *timeout);

#endif
