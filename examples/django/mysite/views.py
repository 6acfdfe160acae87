"""The example's views: plain text, JSON, a CSRF-protected form, a session,
streaming, a file download and a redirect."""

import atexit
import json
import os
import shutil
import tempfile

from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt

ITEMS = []
_TMP = tempfile.mkdtemp(prefix="socketify-django-")
atexit.register(shutil.rmtree, _TMP, True)
DOWNLOAD = os.path.join(_TMP, "data.csv")
with open(DOWNLOAD, "w") as f:
    f.write("".join("%d,%d\n" % (i, i * i) for i in range(5000)))


def index(request):
    return HttpResponse("Hello from Django on socketify!\n", content_type="text/plain")


def hello(request, name):
    return HttpResponse("Hello, %s!" % name, content_type="text/plain; charset=utf-8")


@csrf_exempt
def items(request):
    if request.method == "POST":
        ITEMS.append(json.loads(request.body))
        return JsonResponse({"count": len(ITEMS)}, status=201)
    return JsonResponse({"items": ITEMS})


def form(request):
    if request.method == "POST":
        return HttpResponse("Thanks, %s" % request.POST.get("name", ""), content_type="text/plain")
    token = get_token(request)
    return HttpResponse(
        '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="%s">'
        '<input name="name"><button>Send</button></form>' % token
    )


def counter(request):
    request.session["count"] = request.session.get("count", 0) + 1
    return JsonResponse({"count": request.session["count"]})


def stream(request):
    return StreamingHttpResponse(("chunk %d\n" % i for i in range(10)), content_type="text/plain")


def download(request):
    return FileResponse(open(DOWNLOAD, "rb"), as_attachment=True, filename="data.csv")


def old(request):
    return redirect("/")
