/**
 * A real WebRTC call inside one page: two RTCPeerConnections wired to each other, the first
 * publishing the (fake or real) camera and microphone, the second receiving them. Used by the
 * demo's "real call" mode, the Chromium tests (test/browser/rtc-call.test.ts) and the fixture
 * recorder (test/browser/record-rtc-fixtures.ts).
 */

/** Options of {@link startLoopbackCall}. */
export interface LoopbackCallOptions {
  /** publish the video with three simulcast encodings (rids q, h, f); default false */
  simulcast?: boolean;
  /**
   * With `simulcast`: tell the sender that the receiver accepts all three encodings. Chromium
   * cannot receive simulcast and answers without it, so by default the sender sends only the
   * first encoding; with this the sender sends all three and the receiver takes one of them;
   * default false
   */
  acceptSimulcast?: boolean;
  /** camera resolution asked of getUserMedia; default 640 x 360 */
  width?: number;
  height?: number;
  /**
   * Rewrites every SSRC of the publisher's offer to `base`, `base + 1`, ...; lets a recording
   * restart a stream under the same SSRC (a new call with the old numbers); default: no rewrite
   */
  forceSsrcBase?: number;
  /** reuse these tracks instead of calling getUserMedia; default: getUserMedia */
  tracks?: MediaStreamTrack[];
}

/** A running loopback call. */
export interface LoopbackCall {
  /** the publishing side: its getStats() has outbound-rtp */
  readonly sender: RTCPeerConnection;
  /** the receiving side: its getStats() has inbound-rtp */
  readonly receiver: RTCPeerConnection;
  /** the published tracks (audio first) */
  readonly tracks: MediaStreamTrack[];
  /** the tracks as the receiver got them */
  readonly remoteTracks: MediaStreamTrack[];
  /** closes both connections; stops the tracks unless they were passed in */
  close(): void;
}

// adds receive rids and a=simulcast to the answer's video section, before its a=rtcp-mux
function acceptSimulcastIn(sdp: string): string {
  if (/a=simulcast/.test(sdp)) return sdp;
  return sdp.replace(/(m=video[\s\S]*?)(\r\na=rtcp-mux)/, "$1\r\na=rid:q recv\r\na=rid:h recv\r\na=rid:f recv\r\na=simulcast:recv q;h;f$2");
}

function rewriteSsrcs(sdp: string, base: number): string {
  const seen = new Map<string, number>();
  return sdp.replace(/(a=ssrc(?:-group:\w+(?: \d+)+|:\d+))/g, (line) =>
    line.replace(/\d{3,}/g, (ssrc) => {
      if (!seen.has(ssrc)) seen.set(ssrc, base + seen.size);
      return String(seen.get(ssrc));
    }),
  );
}

/** Starts the call and resolves once the receiver has every remote track and ICE is connected. */
export async function startLoopbackCall(options: LoopbackCallOptions = {}): Promise<LoopbackCall> {
  const ownTracks = options.tracks === undefined;
  const tracks =
    options.tracks ??
    (await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: options.width ?? 640, height: options.height ?? 360 } })).getTracks();
  tracks.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "audio" ? -1 : 1));
  const sender = new RTCPeerConnection();
  const receiver = new RTCPeerConnection();
  sender.onicecandidate = (e) => void (e.candidate && receiver.addIceCandidate(e.candidate));
  receiver.onicecandidate = (e) => void (e.candidate && sender.addIceCandidate(e.candidate));
  const remoteTracks: MediaStreamTrack[] = [];
  const gotTracks = new Promise<void>((ok) => {
    receiver.ontrack = (e) => {
      remoteTracks.push(e.track);
      if (remoteTracks.length === tracks.length) ok();
    };
  });
  const stream = new MediaStream(tracks);
  for (const track of tracks) {
    if (track.kind === "video" && options.simulcast) {
      sender.addTransceiver(track, {
        streams: [stream],
        direction: "sendonly",
        sendEncodings: [
          { rid: "q", scaleResolutionDownBy: 4 },
          { rid: "h", scaleResolutionDownBy: 2 },
          { rid: "f", scaleResolutionDownBy: 1 },
        ],
      });
    } else {
      sender.addTransceiver(track, { streams: [stream], direction: "sendonly" });
    }
  }
  const offer = await sender.createOffer();
  const sdp = options.forceSsrcBase === undefined ? offer.sdp! : rewriteSsrcs(offer.sdp!, options.forceSsrcBase);
  await sender.setLocalDescription({ type: "offer", sdp });
  await receiver.setRemoteDescription({ type: "offer", sdp });
  await receiver.setLocalDescription();
  const answer = receiver.localDescription!.sdp;
  await sender.setRemoteDescription({ type: "answer", sdp: options.simulcast && options.acceptSimulcast ? acceptSimulcastIn(answer) : answer });
  const connected = new Promise<void>((ok, fail) => {
    const check = () => {
      if (sender.connectionState === "connected" && receiver.connectionState === "connected") ok();
      if (sender.connectionState === "failed" || receiver.connectionState === "failed") fail(new Error("the loopback call failed to connect"));
    };
    sender.onconnectionstatechange = check;
    receiver.onconnectionstatechange = check;
    check();
  });
  await Promise.all([connected, gotTracks]);
  return {
    sender,
    receiver,
    tracks,
    remoteTracks,
    close() {
      sender.close();
      receiver.close();
      if (ownTracks) for (const t of tracks) t.stop();
    },
  };
}
