//! The registry entries of 3PC-GD, one per three-point compressor of
//! `squeeze_compress::three_point` (LAG, CLAG, 3PCv1/v2/v4/v5, BAG, AdaCGD, EF21-as-3PC): each
//! builds [`crate::ThreePc`] with its mechanism and is one line of `methods!`.

use squeeze_compress::three_point::{AdaCgd, Bag, Clag, Ef21Mech, Lag, ThreePoint, V1, V2, V4, V5};

use crate::spec::method_entry;

// ---- ef21 (squeeze_compress::three_point::ef21) ----

method_entry! {
    ThreePcEf21Spec(ThreePcEf21Params { compressor, stepsize, count_init }): Star "3pc_ef21",
    summary = "3PC-GD with the EF21 mechanism h + C(x − h) (same trajectory as ef21)",
    example = "compressor = \"top_k:k=1\"",
    |p, ctx, sink| {
        let mech = Ef21Mech::new(p.main_compressor::<S>(ctx.dim)?);
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}

// ---- lag (squeeze_compress::three_point::lag) ----

method_entry! {
    LagSpec(LagParams {
        /// Trigger threshold ζ ≥ 0 (default 1).
        zeta: Option<f64>,
        stepsize, count_init,
    }): Star "lag",
    summary = "3PC-GD, LAG: send ∇f_i dense iff ‖∇f_i − g_i‖² > ζ‖∇f_i − y_i‖², else nothing (zeta; no compressor)",
    example = "zeta = 1.0",
    hints = [(
        "compressor",
        "lag sends dense gradients (use clag for a compressed trigger); remove the compressor",
    )],
    |p, ctx, sink| {
        let mech = Lag::new(p.zeta.unwrap_or(1.0)).map_err(s::mech_param_err)?;
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}

// ---- clag (squeeze_compress::three_point::clag) ----

method_entry! {
    ClagSpec(ClagParams {
        compressor,
        /// Trigger threshold ζ ≥ 0 (default 1).
        zeta: Option<f64>,
        stepsize, count_init,
    }): Star "clag",
    summary = "3PC-GD, CLAG: EF21 step iff ‖∇f_i − g_i‖² > ζ‖∇f_i − y_i‖², else nothing (compressor, zeta)",
    example = "compressor = \"top_k:k=1\"\nzeta = 4.0",
    |p, ctx, sink| {
        let c = p.main_compressor::<S>(ctx.dim)?;
        let mech = Clag::new(c, p.zeta.unwrap_or(1.0)).map_err(s::mech_param_err)?;
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}

// ---- v1 (squeeze_compress::three_point::v1) ----

method_entry! {
    ThreePcV1Spec(ThreePcV1Params { compressor, stepsize, count_init }): Star "3pc_v1",
    summary = "3PC-GD, 3PCv1: y + C(x − y), sent dense (server lacks y) (compressor)",
    example = "compressor = \"top_k:k=1\"",
    |p, ctx, sink| {
        let mech = V1::new(p.main_compressor::<S>(ctx.dim)?);
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}

// ---- v2 (squeeze_compress::three_point::v2) ----

method_entry! {
    ThreePcV2Spec(ThreePcV2Params {
        compressor,
        /// The second compressor (3PCv2: the unbiased Q, required; 3PCv4: C₂, default = compressor).
        compressor2: Option<squeeze_compress::CompressorSpec>,
        stepsize, count_init,
    }): Star "3pc_v2",
    summary = "3PC-GD, 3PCv2: b + C(x − b), b = h + Q(x − y); two messages (compressor = C, compressor2 = Q unbiased)",
    example = "compressor = \"top_k:k=1\"\ncompressor2 = \"rand_k:k=3\"",
    |p, ctx, sink| {
        let q = s::required_compressor::<S, _>(
            "compressor2",
            p.compressor2.as_ref(),
            || "3pc_v2 needs a second compressor, e.g. compressor2 = \"rand_k:k=10\"",
            ctx.dim,
        )?;
        let c = p.main_compressor::<S>(ctx.dim)?;
        let mech = V2::new(c, q).map_err(s::mech_param_err)?;
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}

// ---- v4 (squeeze_compress::three_point::v4) ----

method_entry! {
    ThreePcV4Spec(ThreePcV4Params {
        compressor,
        /// The second compressor (3PCv2: the unbiased Q, required; 3PCv4: C₂, default = compressor).
        compressor2: Option<squeeze_compress::CompressorSpec>,
        stepsize, count_init,
    }): Star "3pc_v4",
    summary = "3PC-GD, 3PCv4: b + C₁(x − b), b = h + C₂(x − h) (compressor = C₁, compressor2 = C₂)",
    example = "compressor = \"top_k:k=1\"\ncompressor2 = \"top_k:k=2\"",
    |p, ctx, sink| {
        let c2 = s::required_compressor::<S, _>(
            "compressor2",
            p.compressor2.as_ref().or(p.compressor.as_ref()),
            || "3pc_v4 needs a second compressor, e.g. compressor2 = \"rand_k:k=10\"",
            ctx.dim,
        )?;
        let c = p.main_compressor::<S>(ctx.dim)?;
        let mech = V4::new(c, c2);
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}

// ---- v5 (squeeze_compress::three_point::v5) ----

method_entry! {
    ThreePcV5Spec(ThreePcV5Params {
        compressor,
        /// Full-round probability (default: the compressor's α).
        p: Option<f64>,
        stepsize, count_init,
    }): Star "3pc_v5",
    summary = "3PC-GD, 3PCv5: shared coin p: dense x, else h + C(x − y) (compressor, p = α by default)",
    example = "compressor = \"top_k:k=1\"",
    |p, ctx, sink| {
        let c = p.main_compressor::<S>(ctx.dim)?;
        let prob = match p.p {
            Some(v) => v,
            None => c.class(ctx.dim).alpha().ok_or_else(|| {
                s::MethodConfigError::at(
                    "p",
                    "3pc_v5 defaults p to the compressor's α, but it has none; set p",
                )
            })?,
        };
        let mech = V5::new(c, prob).map_err(s::mech_param_err)?;
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}

// ---- bag (squeeze_compress::three_point::bag) ----

method_entry! {
    BagSpec(BagParams {
        /// Send probability (default 0.5).
        p: Option<f64>,
        stepsize, count_init,
    }): Star "bag",
    summary = "3PC-GD, Bernoulli aggregation: per-worker coin p: dense x, else nothing (p; no compressor)",
    example = "p = 0.5",
    hints = [(
        "compressor",
        "bag sends dense gradients with probability p; remove the compressor",
    )],
    |p, ctx, sink| {
        let mech = Bag::new(p.p.unwrap_or(0.5)).map_err(s::mech_param_err)?;
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}

// ---- adacgd (squeeze_compress::three_point::adacgd) ----

method_entry! {
    AdaCgdSpec(AdaCgdParams {
        /// Contractive compressors, cheapest first (required).
        ladder: Option<Vec<squeeze_compress::CompressorSpec>>,
        /// Trigger threshold ζ ≥ 0 (default 1).
        zeta: Option<f64>,
        /// Bidirectional: the server ladder, cheapest first.
        downlink_ladder: Option<Vec<squeeze_compress::CompressorSpec>>,
        /// Bidirectional: the downlink ζ ≥ 0 (default: zeta).
        downlink_zeta: Option<f64>,
        stepsize, count_init,
    }): Star "adacgd",
    summary = "3PC-GD, AdaCGD: lazy skip or the cheapest ladder rung within ζ‖x − y‖² (ladder, zeta; bidirectional: downlink_ladder, downlink_zeta)",
    example = "ladder = [\"top_k:k=1\", \"top_k:k=3\", \"top_k:k=10\"]\nzeta = 1.0",
    hints = [(
        "compressor",
        "adacgd takes a ladder of compressors: method.ladder = [\"top_k:k=1\", …]; remove the compressor",
    )],
    |p, ctx, sink| {
        if p.downlink_zeta.is_some() && p.downlink_ladder.is_none() {
            return Err(s::MethodConfigError::at(
                "downlink_zeta",
                "adacgd has no downlink ladder; set downlink_ladder = [\"top_k:k=4\", \"identity\"] or remove downlink_zeta",
            )
            .into());
        }
        let zeta = p.zeta.unwrap_or(1.0);
        let specs = p.ladder.as_deref().ok_or_else(|| {
            s::MethodConfigError::at(
                "ladder",
                "adacgd needs a ladder, cheapest first, e.g. ladder = [\"top_k:k=1\", \"top_k:k=4\", \"top_k:k=16\"]",
            )
        })?;
        let up = adacgd_ladder::<S>(specs, zeta, "ladder", "zeta", ctx.dim)?;
        match p.downlink_ladder.as_deref() {
            None => s::three_pc(Box::new(up), p.stepsize, p.count_init, sink),
            Some(down) => {
                let dz = p.downlink_zeta.unwrap_or(zeta);
                let down =
                    adacgd_ladder::<S>(down, dz, "downlink_ladder", "downlink_zeta", ctx.dim)?;
                let m = crate::star::three_pc::bc::ThreePcBc::new(
                    Box::new(up),
                    Box::new(down),
                    p.stepsize,
                    p.count_init,
                )
                .map_err(s::method_err)?;
                sink.star(m)
            }
        }
    }
}

/// AdaCGD over the ladder `specs` (key `method.<key>`) with threshold ζ (key
/// `method.<zeta_key>`), checked at dimension d.
fn adacgd_ladder<S: squeeze_core::Scalar>(
    specs: &[squeeze_compress::CompressorSpec],
    zeta: f64,
    key: &str,
    zeta_key: &str,
    d: usize,
) -> Result<AdaCgd<S>, crate::spec::MethodConfigError> {
    use crate::spec::MethodConfigError as E;
    let mut ladder = Vec::with_capacity(specs.len());
    for s in specs {
        ladder.push(s.build::<S>().map_err(|e| E::at(key, e.to_string()))?);
    }
    let mech = AdaCgd::new(ladder, zeta).map_err(|e| {
        let k = if e.param == "zeta" { zeta_key } else { key };
        E::at(k, e.to_string())
    })?;
    mech.check_dim(d).map_err(|e| E::at(key, e.to_string()))?;
    Ok(mech)
}
