//! An m-line's formats with their `a=rtpmap`, `a=fmtp`, `a=ptime`/`a=maxptime` and
//! `a=rtcp-fb` lines <-> `<payload-type>` children (XEP-0167 §format, XEP-0293).
//!
//! ptime is per m-line in SDP and per payload type in Jingle: copied onto every payload
//! type one way, the first value taken the other. Static payload types without rtpmap get
//! their RFC 3551 name, which Jingle RECOMMENDS and clients match on.

use super::fmtp::{fmtp_from_parameters, implied_parameters, parameters_from_fmtp};
use crate::jingle::{PayloadType, RtcpFb as JingleFb, RtpDescription};
use crate::sdp::{Attribute, Fmtp, Media, RtcpFb, RtcpFbPt, Rtpmap, TypedAttribute};

const TRR_INT: &str = "trr-int";

/// RFC 3551 §6 static audio payload types (name, clock rate) a phone may use bare.
fn static_payload_type(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        13 => ("CN", 8000),
        18 => ("G729", 8000),
        _ => return None,
    })
}

/// Fills `description` with the payload types of `media` (in preference order) and the
/// `*` feedback lines. Formats that are not payload type numbers are skipped: the caller
/// only hands RTP m-lines here.
pub fn payload_types_from_media(media: &Media, description: &mut RtpDescription) {
    let typed: Vec<TypedAttribute> = media.typed_attributes().collect();
    payload_types_from_typed(media, &typed, description);
}

/// [`payload_types_from_media`] with the media's typed attributes already parsed.
pub(super) fn payload_types_from_typed(
    media: &Media,
    typed: &[TypedAttribute],
    description: &mut RtpDescription,
) {
    let ptime = typed.iter().find_map(|a| match a {
        TypedAttribute::Ptime(p) => Some(*p),
        _ => None,
    });
    let maxptime = typed.iter().find_map(|a| match a {
        TypedAttribute::Maxptime(p) => Some(*p),
        _ => None,
    });
    for format in &media.formats {
        let Ok(id) = format.parse::<u8>() else {
            continue;
        };
        // A payload type listed twice is one payload type (found by fuzzing: its lines
        // would otherwise be attached, and written back, once per listing).
        if description.payload_types.iter().any(|p| p.id == id) {
            continue;
        }
        let mut pt = PayloadType {
            id,
            ptime,
            maxptime,
            ..Default::default()
        };
        let rtpmap = typed.iter().find_map(|a| match a {
            TypedAttribute::Rtpmap(r) if r.pt == id => Some(r),
            _ => None,
        });
        match rtpmap {
            Some(r) => {
                pt.name = Some(r.encoding.clone());
                pt.clockrate = Some(r.clock_rate);
                // XEP-0167: an absent channels means 1, the way back writes it so too.
                pt.channels = r
                    .channels
                    .and_then(|c| u8::try_from(c).ok())
                    .filter(|&c| c != 1);
            }
            None => {
                if let Some((name, rate)) = static_payload_type(id) {
                    pt.name = Some(name.into());
                    pt.clockrate = Some(rate);
                }
            }
        }
        let encoding = pt.name.clone().unwrap_or_default();
        let fmtp = typed.iter().find_map(|a| match a {
            TypedAttribute::Fmtp(f) if f.pt == id => Some(f),
            _ => None,
        });
        pt.parameters = match fmtp {
            Some(f) => parameters_from_fmtp(&f.split_params()),
            None => implied_parameters(&encoding),
        };
        for fb in typed.iter().filter_map(|a| match a {
            TypedAttribute::RtcpFb(fb) if fb.pt == RtcpFbPt::Pt(id) => Some(fb),
            _ => None,
        }) {
            add_feedback(fb, &mut pt.rtcp_fbs, &mut pt.rtcp_fb_trr_int);
        }
        description.payload_types.push(pt);
    }
    for fb in typed.iter().filter_map(|a| match a {
        TypedAttribute::RtcpFb(fb) if fb.pt == RtcpFbPt::All => Some(fb),
        _ => None,
    }) {
        add_feedback(
            fb,
            &mut description.rtcp_fbs,
            &mut description.rtcp_fb_trr_int,
        );
    }
}

fn add_feedback(fb: &RtcpFb, fbs: &mut Vec<JingleFb>, trr_int: &mut Option<u32>) {
    if fb.fb_type == TRR_INT {
        *trr_int = fb.param.as_deref().and_then(|v| v.parse().ok());
    } else {
        fbs.push(JingleFb {
            fb_type: fb.fb_type.clone(),
            subtype: fb.param.clone(),
            unknown_attrs: Vec::new(),
            unknown: Vec::new(),
        });
    }
}

/// The m-line formats and the attribute lines that describe `description`'s payload types.
pub fn media_lines_from_payload_types(
    description: &RtpDescription,
) -> (Vec<String>, Vec<Attribute>) {
    let mut formats = Vec::new();
    let mut attributes = Vec::new();
    for pt in &description.payload_types {
        formats.push(pt.id.to_string());
        // Every RTP video format runs at 90 kHz (RFC 3551 §5, RFC 6184, RFC 7741), so a video
        // payload type without a clockrate still gets its rtpmap; audio rates vary: no guess.
        let clockrate = pt
            .clockrate
            .or_else(|| (description.media == "video").then_some(90_000));
        if let (Some(name), Some(clock_rate)) = (&pt.name, clockrate) {
            let rtpmap = Rtpmap {
                pt: pt.id,
                encoding: name.clone(),
                clock_rate,
                channels: pt.channels.filter(|&c| c != 1).map(u16::from),
            };
            attributes.push(Attribute::new("rtpmap", rtpmap.to_string()));
        }
        let encoding = pt.name.as_deref().unwrap_or_default();
        if !pt.parameters.is_empty() {
            let fmtp = Fmtp::from_params(pt.id, &fmtp_from_parameters(encoding, &pt.parameters));
            attributes.push(Attribute::new("fmtp", fmtp.to_string()));
        }
        push_feedback(
            RtcpFbPt::Pt(pt.id),
            &pt.rtcp_fbs,
            pt.rtcp_fb_trr_int,
            &mut attributes,
        );
    }
    push_feedback(
        RtcpFbPt::All,
        &description.rtcp_fbs,
        description.rtcp_fb_trr_int,
        &mut attributes,
    );
    let first = |f: fn(&PayloadType) -> Option<u32>| description.payload_types.iter().find_map(f);
    if let Some(ptime) = first(|p| p.ptime) {
        attributes.push(Attribute::new("ptime", ptime.to_string()));
    }
    if let Some(maxptime) = first(|p| p.maxptime) {
        attributes.push(Attribute::new("maxptime", maxptime.to_string()));
    }
    (formats, attributes)
}

fn push_feedback(pt: RtcpFbPt, fbs: &[JingleFb], trr_int: Option<u32>, out: &mut Vec<Attribute>) {
    let lines = fbs
        .iter()
        .map(|fb| (fb.fb_type.clone(), fb.subtype.clone()))
        .chain(trr_int.map(|v| (TRR_INT.to_string(), Some(v.to_string()))));
    for (fb_type, param) in lines {
        let line = RtcpFb { pt, fb_type, param };
        out.push(Attribute::new("rtcp-fb", line.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_media(body: &str) -> Media {
        crate::mapping::test_support::session(body).media.remove(0)
    }

    fn description(media: &Media) -> RtpDescription {
        let mut d = RtpDescription {
            media: media.kind.as_str().into(),
            ..Default::default()
        };
        payload_types_from_media(media, &mut d);
        d
    }

    #[test]
    fn a_phone_offer_gets_names_for_static_types_ptime_everywhere_and_explicit_dtmf_events() {
        let media = first_media(
            "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n",
        );
        let d = description(&media);
        let summary: Vec<_> = d
            .payload_types
            .iter()
            .map(|p| {
                (
                    p.id,
                    p.name.as_deref().unwrap(),
                    p.clockrate.unwrap(),
                    p.ptime,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (0, "PCMU", 8000, Some(20)),
                (8, "PCMA", 8000, Some(20)),
                (101, "telephone-event", 8000, Some(20))
            ]
        );
        let dtmf = &d.payload_types[2].parameters;
        assert_eq!(
            (dtmf[0].name.as_str(), dtmf[0].value.as_str()),
            ("", "0-15")
        );
    }

    #[test]
    fn webrtc_video_feedback_per_type_and_for_all_survives_a_round_trip() {
        let media = first_media(
            "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\n\
             a=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 ccm fir\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
             a=rtcp-fb:* trr-int 100\r\na=rtcp-fb:* goog-remb\r\n",
        );
        let d = description(&media);
        assert_eq!(d.payload_types[0].rtcp_fbs.len(), 3);
        assert_eq!(
            d.payload_types[0].rtcp_fbs[1].subtype.as_deref(),
            Some("pli")
        );
        assert_eq!(d.payload_types[1].parameters[0].name, "apt");
        assert_eq!(d.rtcp_fb_trr_int, Some(100));
        assert_eq!(d.rtcp_fbs[0].fb_type, "goog-remb");

        // Back to SDP lines and into Jingle again: the same description.
        let (formats, attributes) = media_lines_from_payload_types(&d);
        let mut again = Media::new(media.kind.clone(), 9, "UDP/TLS/RTP/SAVPF", formats);
        again.attributes = attributes;
        assert_eq!(description(&again), d);
    }

    #[test]
    fn a_payload_type_listed_twice_is_one() {
        let media = first_media("m=audio 4000 RTP/AVP 0 0\r\na=rtcp-fb:0 nack\r\n");
        let d = description(&media);
        assert_eq!(d.payload_types.len(), 1);
        assert_eq!(d.payload_types[0].rtcp_fbs.len(), 1);
    }

    #[test]
    fn channels_fmtp_and_maxptime_round_trip() {
        let media = first_media(
            "m=audio 4000 RTP/AVP 111 63\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
             a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\na=ptime:20\r\na=maxptime:120\r\n",
        );
        let d = description(&media);
        assert_eq!(d.payload_types[0].channels, Some(2));
        assert_eq!(d.payload_types[1].parameters[0].value, "111/111");
        assert_eq!(d.payload_types[1].maxptime, Some(120));
        let (formats, attributes) = media_lines_from_payload_types(&d);
        let lines: Vec<String> = attributes.iter().map(|a| a.to_string()).collect();
        assert!(lines.contains(&"fmtp:63 111/111".to_string()), "{lines:?}");
        assert!(
            lines.contains(&"rtpmap:111 opus/48000/2".to_string()),
            "{lines:?}"
        );
        let mut again = Media::new(media.kind.clone(), 4000, "RTP/AVP", formats);
        again.attributes = attributes;
        assert_eq!(description(&again), d);
    }
}
