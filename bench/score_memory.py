#!/usr/bin/env python3
"""Peak memory of one score request (issue 20): how much the service's peak resident
memory (VmHWM, reset first) grows while it scores N candidates sent as a GeoJSON
FeatureCollection (fc), a JSON request (json) or CSV (csv).

Usage: python3 bench/score_memory.py target/release/territory haima 50000 fc
Serves BIN open on loopback with a fresh database in a temp dir (the bundled data,
demand synthesized), sends one warm-up request that loads the demand grid, then the
measured one. Linux only (/proc/PID/clear_refs and status)."""
import json, os, random, socket, subprocess, sys, tempfile, time, urllib.request

BIN=sys.argv[1]; NET=sys.argv[2]; N=int(sys.argv[3]); FORM=sys.argv[4]
db=os.path.join(tempfile.mkdtemp(), "t.db")
s=socket.socket(); s.bind(("127.0.0.1",0)); port=s.getsockname()[1]; s.close()
p=subprocess.Popen([BIN,"serve","--db",db,"--open","--listen",f"127.0.0.1:{port}","--data",os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"),"--max-import-features","10000000","--request-timeout-secs","600"],stdout=subprocess.PIPE,stderr=subprocess.DEVNULL)
base=f"http://127.0.0.1:{port}"
for _ in range(600):
    try:
        urllib.request.urlopen(base+"/health"); break
    except Exception: time.sleep(0.2)
def req(method, path, body, ct):
    r=urllib.request.Request(base+path, data=body, method=method, headers={"Content-Type":ct})
    try:
        with urllib.request.urlopen(r, timeout=600) as resp: return resp.status, resp.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
def hwm():
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith("VmHWM:"): return int(l.split()[1])*1024
random.seed(1)
pts=[(114.0+random.random()*0.6, 30.3+random.random()*0.4) for _ in range(N)]
if FORM=="fc":
    body=json.dumps({"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":f"c{i}","site_type":"mall"},"geometry":{"type":"Point","coordinates":[round(x,6),round(y,6)]}} for i,(x,y) in enumerate(pts)]}).encode()
    ct="application/geo+json"
elif FORM=="json":
    body=json.dumps({"candidates":[{"id":f"c{i}","site_type":"mall","location":{"type":"Point","coordinates":[round(x,6),round(y,6)]}} for i,(x,y) in enumerate(pts)]}).encode()
    ct="application/json"
else:
    body=("id,lon,lat,site_type\n"+"".join(f"c{i},{x:.6f},{y:.6f},mall\n" for i,(x,y) in enumerate(pts))).encode()
    ct="text/csv"
warm=json.dumps({"candidates":[{"id":"w","location":{"type":"Point","coordinates":[114.3,30.5]},"site_type":"mall"}]}).encode()
print("warm-up", req("POST",f"/networks/{NET}/score",warm,"application/json")[0])
time.sleep(1)
open(f"/proc/{p.pid}/clear_refs","w").write("5")
before=hwm()
t=time.time()
st,ans=req("POST",f"/networks/{NET}/score",body,ct)
took=time.time()-t
print(f"{FORM} {N} candidates, body {len(body)/2**20:.1f} MiB: status {st}, answer {len(ans)/2**20:.1f} MiB, {took:.1f} s, peak grew {(hwm()-before)/2**20:.0f} MiB", ans[:200] if st!=200 else "")
p.terminate(); p.wait()
import shutil; shutil.rmtree(os.path.dirname(db))
