"""Names, summaries and classes of the "gan" samplers (import-light, read by the registration hook)."""

SAMPLERS = {
    "gan-plain": ("z ~ N(0, I), x = G(z) (no rejection)", "PlainSampler"),
    "jbt": ("Jacobian-based truncation: keep the lowest-JFN fraction (000 §3.2.3.4)", "JBTSampler"),
    "simplicial": ("simplicial-cluster truncation, tau calibrated to a target acceptance (001)", "SimplicialSampler"),
    "latent-rs": ("latentRS: rejection in latent space with trained w(z), acceptance ~ 1/m (002 Alg. 2)", "LatentRSSampler"),
    "latent-ga": ("latentGA: gradient ascent on w(z) in latent space (002 Alg. 5)", "LatentGASampler"),
    "latent-rs-ga": ("latentRS then latentGA (002 Alg. 6)", "LatentRSGASampler"),
    "drs": ("discriminator rejection sampling on a BCE discriminator (Azadi et al. 2019)", "DRSSampler"),
    "sir": ("sampling-importance-resampling, N candidates per sample (Grover et al. 2019)", "SIRSampler"),
}

__all__ = ["SAMPLERS"]
