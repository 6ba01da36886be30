# Generates witness-cosignature.json: c2sp.org/tlog-witness and tlog-cosignature (cosignature/v1)
# vectors from an implementation written from the specs in Python, independent of the Rust
# crates datapole uses (RFC 6962 hashing and proofs, signed-note key IDs and lines, Ed25519 via
# pyca/cryptography). Ed25519 is deterministic: rerunning it reproduces the file.
# Run: python3 witness-cosignature.py (needs the `cryptography` package).
import base64, hashlib, struct, json
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization as S
b64=lambda b: base64.b64encode(b).decode()
def pub(sk): return sk.public_key().public_bytes(S.Encoding.Raw,S.PublicFormat.Raw)
def kid(name,typ,pk): return hashlib.sha256(name.encode()+b"\n"+bytes([typ])+pk).digest()[:4]
def vkey(name,typ,pk): return "%s+%s+%s"%(name,kid(name,typ,pk).hex(),b64(bytes([typ])+pk))
# RFC 6962
def lh(d): return hashlib.sha256(b"\x00"+d).digest()
def nh(l,r): return hashlib.sha256(b"\x01"+l+r).digest()
def mth(ls):
    n=len(ls)
    if n==0: return hashlib.sha256(b"").digest()
    if n==1: return ls[0]
    k=1
    while k*2<n: k*=2
    return nh(mth(ls[:k]),mth(ls[k:]))
def subproof(m,ls,b):
    n=len(ls)
    if m==n: return [] if b else [mth(ls)]
    k=1
    while k*2<n: k*=2
    if m<=k: return subproof(m,ls[:k],b)+[mth(ls[k:])]
    return subproof(m-k,ls[k:],False)+[mth(ls[:k])]
def proof(m,ls): return subproof(m,ls,True)

out={}
log_sk=Ed25519PrivateKey.from_private_bytes(bytes([1])*32)
wit_sk=Ed25519PrivateKey.from_private_bytes(bytes([2])*32)
LOG="example.com/datapole-test-log"; WIT="witness.example/w1"
lp,wp=pub(log_sk),pub(wit_sk)
out["log_seed_hex"]=(bytes([1])*32).hex(); out["log_pub_hex"]=lp.hex()
out["log_vkey"]=vkey(LOG,1,lp)
out["wit_seed_hex"]=(bytes([2])*32).hex(); out["wit_pub_hex"]=wp.hex()
out["wit_vkey_cosig_v1"]=vkey(WIT,4,wp)
out["wit_keyid_cosig_v1"]=kid(WIT,4,wp).hex()
out["wit_keyid_if_ed25519_0x01"]=kid(WIT,1,wp).hex()
leaves=[("leaf %d"%i).encode() for i in range(7)]
H=[lh(x) for x in leaves]
r3,r7=mth(H[:3]),mth(H)
out["root3"]=b64(r3); out["root7"]=b64(r7); out["root0_empty"]=b64(mth([]))
p=proof(3,H); out["proof_3_7"]=[b64(x) for x in p]
body7=("%s\n7\n%s\n"%(LOG,b64(r7))).encode()
body3=("%s\n3\n%s\n"%(LOG,b64(r3))).encode()
def logsig(body): return "\u2014 %s %s\n"%(LOG,b64(kid(LOG,1,lp)+log_sk.sign(body)))
cp7=body7.decode()+"\n"+logsig(body7)
cp3=body3.decode()+"\n"+logsig(body3)
out["checkpoint3"]=cp3; out["checkpoint7"]=cp7
req="old 3\n"+"".join(b64(x)+"\n" for x in p)+"\n"+cp7
out["add_checkpoint_request_old3_to7"]=req
out["add_checkpoint_request_first_old0_size3"]="old 0\n\n"+cp3
T=1700000000
msg=("cosignature/v1\ntime %d\n"%T).encode()+body7
out["cosig_signed_message"]=msg.decode()
sig=wit_sk.sign(msg)
line="\u2014 %s %s\n"%(WIT,b64(kid(WIT,4,wp)+struct.pack(">Q",T)+sig))
out["cosig_timestamp"]=T
out["add_checkpoint_response_200"]=line
out["cosigned_checkpoint7"]=cp7+line
T3=1700000000-60
msg3=("cosignature/v1\ntime %d\n"%T3).encode()+body3
line3="\u2014 %s %s\n"%(WIT,b64(kid(WIT,4,wp)+struct.pack(">Q",T3)+wit_sk.sign(msg3)))
out["cosig3_timestamp"]=T3; out["cosig3_line"]=line3
json.dump(out,open("witness-cosignature.json","w"),indent=1,ensure_ascii=False)
for k,v in out.items(): print("==",k); print(v if isinstance(v,str) else json.dumps(v))
