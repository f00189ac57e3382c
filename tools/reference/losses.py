# Reference values for src/train/losses.rs tests, in pure Python (math module only).
# Run: python3 tools/reference/losses.py
import math
def dist(a,b): return math.sqrt(max(sum((x-y)**2 for x,y in zip(a,b)),1e-7))
A=[[0.0,0.0],[1.0,1.0],[0.5,-0.5],[2.0,0.0]]
B=[[0.3,0.4],[1.0,1.5],[0.5,-0.5],[0.0,1.0]]
Y=[1,0,1,0]
for m in (1.0,2.0):
    L=[y*dist(a,b)**2+(1-y)*max(m-dist(a,b),0)**2 for a,b,y in zip(A,B,Y)]
    print("contrastive m=%g"%m, repr(sum(L)/len(L)))
An=[[0,0],[1,1],[0,1]]; P=[[1,0],[1,2],[0,1.5]]; N=[[0,2],[0.5,0.5],[3,1]]
def sq(a,b): return sum((x-y)**2 for x,y in zip(a,b))
for m in (0.2,1.0):
    print("triplet sq m=%g"%m, repr(sum(max(0,sq(a,p)-sq(a,n)+m) for a,p,n in zip(An,P,N))/3))
    print("triplet plain m=%g"%m, repr(sum(max(0,dist(a,p)-dist(a,n)+m) for a,p,n in zip(An,P,N))/3))
E=[[1.0,2.0,0.0],[0.0,-1.0,1.0]]; W=[[1,0,0],[0,1,0],[0,0,1],[1,1,1]]; lab=[1,3]
def nrm(v): n=math.sqrt(sum(x*x for x in v)); return [x/n for x in v]
for s,m in ((10.0,0.2),(30.0,0.35)):
    tot=0
    for e,l in zip(E,lab):
        e=nrm(e); cs=[sum(a*b for a,b in zip(e,nrm(w))) for w in W]
        lg=[s*(c-(m if j==l else 0)) for j,c in enumerate(cs)]
        mx=max(lg); lse=mx+math.log(sum(math.exp(x-mx) for x in lg))
        tot+=lse-lg[l]
    print("cosface s=%g m=%g"%(s,m), repr(tot/2))
