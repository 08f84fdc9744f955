"""Make altered TUM folders from a source folder. usage: make_variant.py SRC DST KIND"""
import sys, os, shutil, numpy as np, cv2
src, dst, kind = sys.argv[1:4]
if os.path.exists(dst): shutil.rmtree(dst)
shutil.copytree(src, dst)
def lst(name):
    out = []
    for l in open(os.path.join(dst, name)):
        if l.startswith('#') or not l.strip(): continue
        t, p = l.split()[:2]; out.append((t, p))
    return out
rgb = lst('rgb.txt'); dep = lst('depth.txt')
rng = np.random.default_rng(0)
def rw(p, f):
    path = os.path.join(dst, p); im = cv2.imread(path, cv2.IMREAD_UNCHANGED); im = f(im)
    assert cv2.imwrite(path, im)
k = np.zeros((31, 31), np.float32); k[15, :] = 1 / 31.0
if kind == 'black': [rw(p, lambda im: np.zeros_like(im)) for _, p in rgb]
elif kind == 'white': [rw(p, lambda im: np.full_like(im, 255)) for _, p in rgb]
elif kind == 'overexposed': [rw(p, lambda im: np.clip(im.astype(np.float32) * 4 + 60, 0, 255).astype(np.uint8)) for _, p in rgb]
elif kind == 'darknoise': [rw(p, lambda im: np.clip(im.astype(np.float32) * 0.04 + rng.normal(0, 4, im.shape), 0, 255).astype(np.uint8)) for _, p in rgb]
elif kind == 'blur': [rw(p, lambda im: cv2.filter2D(im, -1, k)) for _, p in rgb]
elif kind == 'blur15':
    k2 = np.zeros((15, 15), np.float32); k2[7, :] = 1 / 15.0
    [rw(p, lambda im: cv2.filter2D(im, -1, k2)) for _, p in rgb]
elif kind == 'occluded':
    tex = cv2.resize(rng.integers(0, 255, (30, 16, 3)).astype(np.uint8), (320, 480), interpolation=cv2.INTER_CUBIC)
    def occ(im):
        im = im.copy(); im[:, :320] = tex; return im
    def occd(im):
        im = im.copy(); im[:, :320] = 1500; return im   # 0.3 m at 5000/m
    [rw(p, occ) for _, p in rgb]; [rw(p, occd) for _, p in dep]
elif kind == 'mirror': [rw(p, lambda im: cv2.flip(im, 1)) for _, p in rgb + dep]
elif kind == 'upside': [rw(p, lambda im: cv2.flip(im, -1)) for _, p in rgb + dep]
elif kind == 'frozen':
    first_r = cv2.imread(os.path.join(dst, rgb[0][1]), cv2.IMREAD_UNCHANGED)
    first_d = cv2.imread(os.path.join(dst, dep[0][1]), cv2.IMREAD_UNCHANGED)
    [rw(p, lambda im: first_r) for _, p in rgb]; [rw(p, lambda im: first_d) for _, p in dep]
elif kind == 'depthzero': [rw(p, lambda im: np.zeros_like(im)) for _, p in dep]
elif kind == 'depthx1000':
    # wrong units: depth written in metres*5000*1000 cannot fit in uint16; emulate a driver writing um (x1000 of mm):
    # TUM 5000/m -> values x1000 saturate; instead scale camera factor: write depth.txt scale via values /1000? see notes
    [rw(p, lambda im: np.clip(im.astype(np.float64) * 1000, 0, 65535).astype(np.uint16)) for _, p in dep]
elif kind == 'depthdiv1000':
    [rw(p, lambda im: np.maximum(np.round(im.astype(np.float64) / 1000), 0).astype(np.uint16)) for _, p in dep]
elif kind in ('depthshift', 'depthshift1'):
    sh = 10 if kind == 'depthshift' else 1
    imgs = [cv2.imread(os.path.join(dst, p), cv2.IMREAD_UNCHANGED) for _, p in dep]
    n = len(imgs)
    for i, (_, p) in enumerate(dep):
        cv2.imwrite(os.path.join(dst, p), imgs[(i + sh) % n])
elif kind.startswith('subset'):
    a, b = [int(x) for x in kind[6:].split('-')]
    for name in ('rgb.txt', 'depth.txt', 'groundtruth.txt'):
        L = [l for l in open(os.path.join(dst, name)) if l.strip() and not l.startswith('#')]
        open(os.path.join(dst, name), 'w').writelines(L[a:b])
else: raise SystemExit('unknown kind ' + kind)
print(dst, kind, len(rgb), 'rgb', len(dep), 'depth')
