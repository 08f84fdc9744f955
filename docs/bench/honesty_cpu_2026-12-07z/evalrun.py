"""usage: evalrun.py RUN GT_TXT [label]  -> one summary line + json"""
import sys, json, numpy as np, collections
from scipy.spatial.transform import Rotation as R
run, gtf = sys.argv[1], sys.argv[2]; label = sys.argv[3] if len(sys.argv) > 3 else run
gt = {}
for l in open(gtf):
    if l.startswith('#') or not l.strip(): continue
    v = [float(x) for x in l.split()]
    T = np.eye(4); T[:3, :3] = R.from_quat(v[4:8]).as_matrix(); T[:3, 3] = v[1:4]
    gt[round(v[0] * 1e9)] = T
keys = np.array(sorted(gt))
def gt_at(ns):
    i = np.argmin(abs(keys - ns))
    return gt[keys[i]] if abs(keys[i] - ns) < 5e6 else None
rows = [json.loads(l) for l in open(run + '/results.jsonl')]
pub = [r for r in rows if r['success']]
errs = []; d2p = []; d2r = []; d2 = []; within = collections.Counter(); n_eval = 0
for r in pub:
    T = np.array(r['map_from_cam']); G = gt_at(r['stamp_ns'])
    if G is None: continue
    n_eval += 1
    ep = T[:3, 3] - G[:3, 3]
    er = R.from_matrix(G[:3, :3] @ T[:3, :3].T).as_rotvec()   # map-axes rotation error
    te, re = np.linalg.norm(ep), np.degrees(np.linalg.norm(er))
    errs.append((te, re, r['stamp_ns']))
    C = np.array(r['covariance'])
    a = ep @ np.linalg.solve(C[:3, :3], ep); b = er @ np.linalg.solve(C[3:, 3:], er)
    e = np.r_[ep, er]; c = e @ np.linalg.solve(C, e)
    d2p.append(a); d2r.append(b); d2.append(c)
    sp = np.sqrt(np.diag(C)[:3]); sr = np.sqrt(np.diag(C)[3:])
    for k in (1, 2, 3):
        within[('pos_axis', k)] += np.mean(abs(ep) <= k * sp)
        within[('rot_axis', k)] += np.mean(abs(er) <= k * sr)
        within[('pos_maha', k)] += a <= k * k
        within[('rot_maha', k)] += b <= k * k
reasons = collections.Counter(r['reason'].split(':')[0][:70] for r in rows if not r['success'])
out = {'label': label, 'frames': len(rows), 'published': len(pub), 'evaluated': n_eval}
if errs:
    E = np.array(errs)
    out.update(worst_pos_cm=round(100 * E[:, 0].max(), 2), worst_rot_deg=round(E[:, 1].max(), 2),
               median_pos_cm=round(100 * np.median(E[:, 0]), 2),
               wrong=int(np.sum((E[:, 0] > 0.10) | (E[:, 1] > 5))),
               wrong_over_3sigma=0)
    for k in (1, 2, 3):
        for b in ('pos_axis', 'rot_axis', 'pos_maha', 'rot_maha'):
            out[f'{b}_{k}s'] = round(within[(b, k)] / n_eval, 3)
    out['nees_pos_mean'] = round(float(np.mean(d2p)), 2); out['nees_rot_mean'] = round(float(np.mean(d2r)), 2)
    out['nees6_mean'] = round(float(np.mean(d2)), 2); out['nees6_median'] = round(float(np.median(d2)), 2)
    out['nees_pos_max'] = round(float(np.max(d2p)), 1)
out['refusals'] = dict(reasons.most_common(6))
print(json.dumps(out))
