/// The live meter page of `record --listen` (`/`): one self-contained HTML page (no external
/// assets) that works on a phone. One bar per channel from -60 to 0 dBFS under a dB scale that
/// stays in view, coloured by zone as the terminal meter is (below the target band, in it, hot:
/// above -margin), with the target band marked and the hot zone tinted; a 3-second peak hold,
/// clip and flat latches with their counts (tap a channel to clear its latch on this page), the
/// proposal, the take, the time, disk left and losses. It reads `/live`, a WebSocket sending
/// the status 10 times a second, answers each status it is sent (``LiveFeed``'s window), and
/// reconnects by itself.
enum LivePage {
    static func html(device: String) -> String {
        let title = DisplayText.markup(device)
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>headroom: \(title)</title>
            <style>
            body{font:15px/1.35 system-ui,sans-serif;margin:0;background:#111;color:#eee}
            #top{position:sticky;top:0;z-index:1;background:#222}
            header{padding:10px 12px 4px;display:flex;flex-wrap:wrap;gap:6px 16px;align-items:baseline}
            #scale{position:relative;height:16px;margin:0 12px 4px;font-size:11px;color:#999;font-variant-numeric:tabular-nums}
            #scale span{position:absolute;top:0;transform:translateX(-50%)}
            #scale span:first-child{transform:none} #scale span:last-child{transform:translateX(-100%)}
            header b{font-size:17px} .rec{color:#f44;font-weight:700} .idle{color:#999;font-weight:700} .wait{color:#fb0;font-weight:700}
            #conn{margin-left:auto;color:#999} #conn.down{color:#fb0}
            .ch{padding:8px 12px;border-bottom:1px solid #333}
            .row{display:flex;justify-content:space-between;gap:8px;flex-wrap:wrap}
            .name{font-weight:600} .fig{color:#bbb;font-variant-numeric:tabular-nums}
            .bar{position:relative;height:18px;background:#2a2a2a;margin:6px 0;border-radius:3px;overflow:hidden}
            .band{position:absolute;top:0;bottom:0;background:rgba(102,187,106,.35);border-left:1px solid #66bb6a;border-right:1px solid #66bb6a}
            .hot{position:absolute;top:0;bottom:0;right:0;background:rgba(239,83,80,.22)}
            .fill{position:absolute;top:0;bottom:0;left:0;background:#29b6f6}
            .hold{position:absolute;top:0;bottom:0;width:2px;background:#fff}
            .latch{display:inline-block;min-width:64px;text-align:center;padding:1px 6px;border-radius:3px;color:#888;border:1px solid #444}
            .latch.clip{background:#d50000;color:#fff;border-color:#d50000}
            .latch.flat{background:#aa00ff;color:#fff;border-color:#aa00ff}
            .prop{color:#ddd}
            </style></head><body>
            <div id="top"><header><b>headroom</b><span id="dev">\(title)</span><span id="state" class="idle">…</span>
            <span id="take"></span><span id="time"></span><span id="disk"></span><span id="loss"></span><span id="conn">connecting</span></header>
            <div id="scale"></div></div>
            <main id="chs"></main>
            <script>
            const lo=-60, band=[0,0], holds={}, cleared={};
            function pos(db){ if(db===null||db===undefined) return 0; return Math.max(0,Math.min(100,(db-lo)/(0-lo)*100)); }
            document.getElementById("scale").innerHTML=[-60,-48,-36,-24,-12,-6,0].map(d=>'<span style="left:'+pos(d)+'%">'+d+'</span>').join("");
            // The fill's colours by zone, as the terminal meter's: below the band, in it, hot.
            function zones(width,s){
              if(width<=0) return "none";
              const at=db=>(pos(db)/width*100).toFixed(2)+"%", a=at(s.band_low_dbtp), b=at(s.margin_dbtp);
              return "linear-gradient(to right,#29b6f6 0 "+a+",#66bb6a "+a+" "+b+",#ef5350 "+b+")";
            }
            function fmt(v,d){ return v===null||v===undefined ? "-inf" : v.toFixed(d===undefined?1:d); }
            function clock(s){ const h=Math.floor(s/3600),m=Math.floor(s/60)%60,x=(s%60).toFixed(1).padStart(4,"0"); return (h?h+":":"")+String(m).padStart(2,"0")+":"+x; }
            function row(c){
              let el=document.getElementById("ch"+c.channel);
              if(!el){
                el=document.createElement("div"); el.className="ch"; el.id="ch"+c.channel;
                el.innerHTML='<div class="row"><span class="name"></span><span class="latch"></span></div>'+
                  '<div class="bar"><div class="hot"></div><div class="fill"></div><div class="band"></div><div class="hold"></div></div>'+
                  '<div class="row"><span class="fig"></span><span class="prop"></span></div>';
                el.onclick=()=>{ cleared[c.channel]={clip:el.dataset.clip|0,flat:el.dataset.flat|0}; };
                document.getElementById("chs").appendChild(el);
              }
              return el;
            }
            function show(s){
              const state=document.getElementById("state");
              state.textContent=s.recording?"REC":s.waiting_for_device?"waiting for the device":"stopped";
              state.className=s.recording?"rec":s.waiting_for_device?"wait":"idle";
              const waiting=s.waiting_for_device&&s.waiting_reason!=null;
              document.getElementById("take").textContent=waiting?s.waiting_reason:s.take;
              document.getElementById("time").textContent=clock(waiting?s.waiting_seconds:s.take_seconds);
              const d=s.disk_seconds_left;
              document.getElementById("disk").textContent=d==null?"":"disk "+(d>=3600?Math.floor(d/3600)+"h"+String(Math.floor(d/60)%60).padStart(2,"0")+"m":Math.floor(d/60)+"m"+String(Math.floor(d)%60).padStart(2,"0")+"s")+" left";
              document.getElementById("loss").textContent="xruns "+s.xruns+", gaps "+s.gaps+", dropped "+s.dropped_frames+(s.device_lost?", device lost "+s.device_lost:"");
              const now=Date.now();
              for(const c of s.channels){
                const el=row(c), k=c.channel;
                el.dataset.clip=c.clip_events; el.dataset.flat=c.flat_events;
                el.querySelector(".name").textContent=c.name===""||c.name===String(c.channel)?String(c.channel):c.channel+" "+c.name;
                const b=el.querySelector(".band"); b.style.left=pos(s.band_low_dbtp)+"%"; b.style.width=(pos(s.margin_dbtp)-pos(s.band_low_dbtp))+"%";
                el.querySelector(".hot").style.left=pos(s.margin_dbtp)+"%";
                const f=el.querySelector(".fill"), w=pos(c.level_dbfs); f.style.width=w+"%"; f.style.background=zones(w,s);
                const h=holds[k]; if(!h||c.level_dbfs!==null&&(h.v===null||c.level_dbfs>=h.v)||now-h.t>3000) holds[k]={v:c.level_dbfs,t:now};
                el.querySelector(".hold").style.left=pos(holds[k].v)+"%";
                const base=cleared[k]||{clip:0,flat:0}, clips=c.clip_events-base.clip, flats=c.flat_events-base.flat;
                const l=el.querySelector(".latch");
                if(clips>0||c.clipping){ l.className="latch clip"; l.textContent="CLIP "+Math.max(clips,0); }
                else if(flats>0){ l.className="latch flat"; l.textContent="FLAT "+flats; }
                else { l.className="latch"; l.textContent="-"; }
                el.querySelector(".fig").textContent="TP "+fmt(c.true_peak_dbtp)+" dBTP  headroom "+fmt(c.headroom_db)+" dB  hot "+c.hot_events;
                el.querySelector(".prop").textContent=c.proposal;
              }
            }
            function connect(){
              const ws=new WebSocket((location.protocol==="https:"?"wss://":"ws://")+location.host+"/live");
              const conn=document.getElementById("conn");
              ws.onopen=()=>{ conn.textContent="live"; conn.className=""; };
              ws.onmessage=e=>{ ws.send("a"); show(JSON.parse(e.data)); };
              ws.onclose=()=>{ conn.textContent="reconnecting"; conn.className="down"; setTimeout(connect,1000); };
              ws.onerror=()=>ws.close();
            }
            connect();
            </script></body></html>

            """
    }
}
