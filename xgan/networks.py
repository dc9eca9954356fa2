"""The networks of every model: architecture only, no losses (those are in :mod:`xgan.losses`).

XGAN (paper, Appendix 7.1, Table 1), DTN's encoder f and 3-way critic, CycleGAN's ResNet generator
(CUT's too, with its patch heads), UNIT's shared-latent autoencoders and the PatchGAN critic they all use.

The dual autoencoder keeps its shared and per-domain layers in separate containers, so the split the
paper describes is visible in the module tree:

    encoder  per domain: conv1, conv2            shared: conv3, conv4, FC1, FC2 -> L2-normalised
    decoder  shared: deconv1, deconv2            per domain: deconv3, deconv4, deconv5 -> tanh

Widths and how many layers are shared come from the preset's ``[network]`` table. Every layer but
the last of each network is followed by batch normalisation and ReLU. Both domains go through a
shared layer as one batch (one kernel launch, one set of normalisation statistics), which is what
sharing the layer means at evaluation time too.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: The two domains, in the order used for stacked batches: source (photos) first, target second.
DOMAINS = ("face", "cartoon")


#: what normalises the encoders' and decoders' hidden layers (``network.norm``): the paper's batch
#: norm, or a per-sample one, which makes each image's output independent of the rest of its batch
#: (so training and evaluation compute the same function, and ``norms_as_at_test`` has nothing to do)
NORMS = ("batch", "group", "instance", "none")
#: how the decoders double the side (``network.upsample``): the paper's transposed convolutions, or
#: nearest-neighbour resizing then a 3x3 convolution (Odena et al. 2016: no checkerboard by construction)
UPSAMPLES = ("transposed", "resize")


def norm_layer(kind: str, channels: int, spatial: bool = True) -> list[nn.Module]:
    """The normalisation after a hidden layer: ``batch`` (BN), ``group`` (GroupNorm with one group: a
    per-sample layer norm), ``instance`` (per sample and channel; a fully connected layer has no
    spatial extent, so it gets the per-sample layer norm) or ``none``."""
    if kind == "batch":
        return [nn.BatchNorm2d(channels) if spatial else nn.BatchNorm1d(channels)]
    if kind == "group" or (kind == "instance" and not spatial):
        return [nn.GroupNorm(1, channels)]
    if kind == "instance":
        return [nn.InstanceNorm2d(channels, affine=True)]
    return []


def conv_block(cin: int, cout: int, kernel: int, last: bool = False, norm: str | bool = "batch") -> nn.Sequential:
    """A stride-2 convolution halving the side (normalisation + ReLU unless it is the network's last
    layer; ``norm`` one of :data:`NORMS`, ``True``/``False`` for batch/none; a bias where no norm follows)."""
    norm = {True: "batch", False: "none"}.get(norm, norm)
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, 2, (kernel - 2) // 2, bias=last or norm != "batch")]
    if not last:
        layers += norm_layer(norm, cout) + [nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def deconv_block(cin: int, cout: int, kernel: int, last: bool = False, norm: str = "batch",
                 upsample: str = "transposed") -> nn.Sequential:
    """A layer doubling the side (tanh if last, else normalisation + ReLU): a stride-2 transposed
    convolution, or with ``upsample = "resize"`` nearest x2 then a 3x3 convolution."""
    bias = last or norm != "batch"
    if upsample == "resize":
        layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, 1, 1, bias=bias)]
    else:
        layers = [nn.ConvTranspose2d(cin, cout, kernel, 2, (kernel - 2) // 2, bias=bias)]
    layers += [nn.Tanh()] if last else norm_layer(norm, cout) + [nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def linear_block(cin: int, cout: int, last: bool = False, flatten: bool = False, norm: str | bool = "batch") -> nn.Sequential:
    """A fully connected layer (normalisation + ReLU unless last; ``norm=False``: ReLU only, with a bias)."""
    norm = {True: "batch", False: "none"}.get(norm, norm)
    layers: list[nn.Module] = [nn.Flatten()] if flatten else []
    layers.append(nn.Linear(cin, cout, bias=last or norm != "batch"))
    if not last:
        layers += norm_layer(norm, cout, spatial=False) + [nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


#: what normalises the critic's hidden layers (``network.critic_norm``): the paper's batch norm,
#: spectral normalisation of every layer's weights instead (Miyato et al. 2018), or nothing
CRITIC_NORMS = ("batch", "spectral", "none")
#: which critic judges the translations (``network.critic``): ``paper``, Table 1c (one logit per image,
#: real and fake batches normalised apart); ``joint``, the same layers with LeakyReLU, no norm on the
#: first layer and real and fake normalised as one batch in both players' steps, so a batch of fakes is
#: judged against real statistics; ``patch``, a PatchGAN (Isola et al. 2017) without batch norm
#: whose logits judge 34x34 patches of a 64px image (two scales with ``critic_scales = 2``)
CRITICS = ("paper", "joint", "patch")


def critic_norm(cfg: Mapping) -> str:
    """``network.critic_norm`` (``"batch"`` where a configuration predates it), checked."""
    norm = cfg.get("critic_norm", "batch")
    if norm not in CRITIC_NORMS:
        raise ValueError(f"network.critic_norm must be one of {', '.join(CRITIC_NORMS)}, got {norm!r}")
    return norm


def critic_kind(cfg: Mapping) -> str:
    """``network.critic`` (``"paper"`` where a configuration predates it), checked with the norm it
    allows: the joint critic is the batch-normed one; the PatchGAN has none (spectral or no norm)."""
    kind, norm = cfg.get("critic", "paper"), critic_norm(cfg)
    if kind not in CRITICS:
        raise ValueError(f"network.critic must be one of {', '.join(CRITICS)}, got {kind!r}")
    if kind == "joint" and norm != "batch":
        raise ValueError(f"network.critic = joint normalises real and fake as one batch and needs "
                         f"network.critic_norm = batch, got {norm!r}")
    if kind == "patch" and norm == "batch":
        raise ValueError("network.critic = patch has no batch norm: set network.critic_norm to spectral or none")
    scales = cfg.get("critic_scales", 1)
    if scales not in (1, 2) or (scales == 2 and kind != "patch"):
        raise ValueError(f"network.critic_scales must be 1, or 2 with network.critic = patch; got {scales}")
    return kind


def check_network(cfg: Mapping) -> None:
    """Raise ValueError (one sentence) if the ``[network]`` table cannot build the paper's topology."""
    critic_kind(cfg)
    for key, choices, default in (("norm", NORMS, "batch"), ("upsample", UPSAMPLES, "transposed")):
        if cfg.get(key, default) not in choices:
            raise ValueError(f"network.{key} must be one of {', '.join(choices)}, got {cfg[key]!r}")
    size, k = cfg["image_size"], cfg["kernel"]
    if k < 2 or k % 2:
        raise ValueError(f"network.kernel must be an even number >= 2 (stride-2 blocks), got {k}")
    for key, n in (("encoder", len(cfg["encoder"])), ("decoder", len(cfg["decoder"])),
                   ("discriminator", len(cfg["discriminator"]))):
        if n < 1 or size % (2 ** n) or size // (2 ** n) < 1:
            raise ValueError(f"network.{key} has {n} stride-2 layers, which do not divide image_size {size}")
    if not cfg["embedding"]:
        raise ValueError("network.embedding needs at least one fully connected layer")
    n_enc = len(cfg["encoder"]) + len(cfg["embedding"])
    if not 0 <= cfg["encoder_shared"] <= n_enc:
        raise ValueError(f"network.encoder_shared must be between 0 and {n_enc}, got {cfg['encoder_shared']}")
    n_dec = len(cfg["decoder"]) + 1
    if not 0 <= cfg["decoder_shared"] <= n_dec:
        raise ValueError(f"network.decoder_shared must be between 0 and {n_dec}, got {cfg['decoder_shared']}")


def encoder_layers(cfg: Mapping) -> list[nn.Module]:
    """conv1..convN then FC1..FCM (the last without BN/ReLU), bottom to top."""
    chans, k, size = [3] + list(cfg["encoder"]), cfg["kernel"], cfg["image_size"]
    norm = cfg.get("norm", "batch")
    layers: list[nn.Module] = [conv_block(a, b, k, norm=norm) for a, b in zip(chans[:-1], chans[1:])]
    side = size // 2 ** len(cfg["encoder"])
    dims = [chans[-1] * side * side] + list(cfg["embedding"])
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(linear_block(a, b, last=i == len(dims) - 2, flatten=i == 0, norm=norm))
    return layers


def decoder_layers(cfg: Mapping) -> list[nn.Module]:
    """deconv1 (embedding -> side x side, a fully connected layer in effect) then layers doubling the
    side up to the image (``network.upsample``), tanh last."""
    chans, k, size = list(cfg["decoder"]), cfg["kernel"], cfg["image_size"]
    norm, up = cfg.get("norm", "batch"), cfg.get("upsample", "transposed")
    side = size // 2 ** len(chans)
    first = nn.Sequential(nn.Unflatten(1, (cfg["embedding"][-1], 1, 1)),
                          nn.ConvTranspose2d(cfg["embedding"][-1], chans[0], side, 1, 0, bias=norm != "batch"),
                          *norm_layer(norm, chans[0]), nn.ReLU(inplace=True))
    outs = chans[1:] + [3]
    return [first] + [deconv_block(a, b, k, last=i == len(outs) - 1, norm=norm, upsample=up)
                      for i, (a, b) in enumerate(zip(chans, outs))]


@contextlib.contextmanager
def norms_as_at_test(*modules: nn.Module) -> Iterator[None]:
    """Batch norms inside normalise by their running statistics, as in evaluation mode, and leave them
    as they are, while gradients still flow: for passes over generated images (translations, their
    re-encoding), so a loss on them is a loss on what evaluation and ``xgan translate`` compute."""
    norms = [m for mod in modules for m in mod.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    modes = [m.training for m in norms]
    for m in norms:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(norms, modes):
            m.train(mode)


class DualAutoencoder(nn.Module):
    """e_face, e_cartoon, d_face, d_cartoon with the paper's partial sharing.

    ``encode`` and ``decode`` take and return batches stacked by domain, so each shared layer runs
    once for both domains.
    """

    def __init__(self, cfg: Mapping):
        super().__init__()
        check_network(cfg)
        enc, dec = encoder_layers(cfg), decoder_layers(cfg)
        n_priv_enc = len(enc) - cfg["encoder_shared"]
        n_shared_dec = cfg["decoder_shared"]
        # --- per-domain (unshared) layers ---
        self.enc_private = nn.ModuleDict({d: nn.Sequential(*encoder_layers(cfg)[:n_priv_enc]) for d in DOMAINS})
        self.dec_private = nn.ModuleDict({d: nn.Sequential(*decoder_layers(cfg)[n_shared_dec:]) for d in DOMAINS})
        # --- shared layers ---
        self.enc_shared = nn.Sequential(*enc[n_priv_enc:])
        self.dec_shared = nn.Sequential(*dec[:n_shared_dec])
        self.embedding_dim = cfg["embedding"][-1]

    def encode(self, images: Sequence[torch.Tensor], domains: Sequence[str]) -> torch.Tensor:
        """L2-normalised embeddings of ``images[i]`` through ``e_{domains[i]}``, stacked in order."""
        h = torch.cat([self.enc_private[d](x) for x, d in zip(images, domains)])
        return F.normalize(self.enc_shared(h), dim=1)

    def decode(self, z: torch.Tensor, domains: Sequence[str]) -> list[torch.Tensor]:
        """``d_domain(z)`` for each domain in ``domains`` (the shared trunk runs once)."""
        u = self.dec_shared(z)
        return [self.dec_private[d](u) for d in domains]

    def translate(self, x: torch.Tensor, source: str, target: str) -> torch.Tensor:
        return self.decode(self.encode([x], [source]), [target])[0]


def spectral(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) of every convolution and linear layer inside."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.utils.parametrizations.spectral_norm(m)
    return module


class Discriminator(nn.Module):
    """conv 16/32/32/32 (stride 2) then one logit per image (Table 1c), or ``outputs`` logits.

    ``network.critic_norm = "spectral"`` drops the batch norms and bounds every layer's largest
    singular value by 1 instead: a batch-normed critic judges each batch of fakes by that batch's own
    statistics, which a generator can exploit without looking like the real images.
    ``network.critic = "joint"`` keeps the batch norms but is called on real and fake as one batch
    (``joint``: the models' steps concatenate them), with LeakyReLU and no norm on the first layer.
    """

    #: whether the players' steps must call it on real and fake images as one batch
    joint = False

    def __init__(self, cfg: Mapping, outputs: int = 1):
        super().__init__()
        chans, k, size = [3] + list(cfg["discriminator"]), cfg["kernel"], cfg["image_size"]
        side = size // 2 ** len(cfg["discriminator"])
        norm = critic_norm(cfg)
        self.joint = critic_kind(cfg) == "joint"
        self.outputs = outputs
        if self.joint:
            convs: list[nn.Module] = []
            for i, (a, b) in enumerate(zip(chans[:-1], chans[1:])):
                convs += [nn.Conv2d(a, b, k, 2, (k - 2) // 2, bias=i == 0)] + ([nn.BatchNorm2d(b)] if i else [])
                convs.append(nn.LeakyReLU(0.2, inplace=True))
        else:
            convs = [conv_block(a, b, k, norm=norm == "batch") for a, b in zip(chans[:-1], chans[1:])]
        self.net = nn.Sequential(*convs, linear_block(chans[-1] * side * side, outputs, last=True, flatten=True))
        if norm == "spectral":
            spectral(self.net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)
        return y.squeeze(1) if self.outputs == 1 else y


class PatchDiscriminator(nn.Module):
    """XGAN's PatchGAN critic (``network.critic = "patch"``): :class:`PatchCritic` without batch or
    instance norm (spectral norm or none, ``network.critic_norm``), width the first of
    ``network.discriminator``, two stride-2 layers: each logit judges a 34x34 patch of a 64px image.
    With ``critic_scales = 2`` a second one judges the image at half size (68px patches in the
    original). Returns (B, patches) logits: the GAN losses average over them."""

    joint = False

    def __init__(self, cfg: Mapping):
        super().__init__()
        norm, width = critic_norm(cfg), int(cfg["discriminator"][0])
        self.scales = nn.ModuleList(PatchCritic(width, 2, norm) for _ in range(cfg.get("critic_scales", 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        for i, critic in enumerate(self.scales):
            out.append(critic(F.avg_pool2d(x, 2 ** i) if i else x).flatten(1))
        return torch.cat(out, 1)


def make_critic(cfg: Mapping) -> nn.Module:
    """The critic ``network.critic`` names: one logit per image, or per patch (see :data:`CRITICS`)."""
    return PatchDiscriminator(cfg) if critic_kind(cfg) == "patch" else Discriminator(cfg)


class DomainClassifier(nn.Module):
    """c_dann: which domain an embedding came from (one logit; > 0 means cartoon).

    An MLP without batch normalisation (it is not part of Table 1): normalising over a batch that
    is half faces, half cartoons would let the encoders flip the classifier's decisions by swapping
    the two clusters' relative positions, and the game never settles near 50%.
    """

    def __init__(self, cfg: Mapping):
        super().__init__()
        dims = [cfg["embedding"][-1]] + list(cfg["domain_classifier"]) + [1]
        self.net = nn.Sequential(*[linear_block(a, b, last=i == len(dims) - 2, norm=False)
                                   for i, (a, b) in enumerate(zip(dims[:-1], dims[1:]))])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)


# --- DTN: the encoder f and the 3-way critic ---------------------------------------------------

#: the keys of f's architecture, as stored in its checkpoint
ENCODER_ARCH_KEYS = ("image_size", "kernel", "encoder", "hidden", "dim")


def check_encoder_arch(arch: Mapping) -> None:
    """Raise ValueError (one sentence) if ``arch`` cannot build a :class:`FaceEncoder`."""
    for key in ENCODER_ARCH_KEYS:
        if key not in arch:
            raise ValueError(f"the encoder architecture lacks {key!r}")
    size, k, n = arch["image_size"], arch["kernel"], len(arch["encoder"])
    if k < 2 or k % 2:
        raise ValueError(f"the encoder's kernel must be an even number >= 2, got {k}")
    if n < 1 or size % (2 ** n):
        raise ValueError(f"{n} stride-2 encoder layers do not divide image size {size}")
    if arch["dim"] < 1:
        raise ValueError(f"the encoder's output size must be positive, got {arch['dim']}")


class FaceEncoder(nn.Module):
    """DTN's f: XGAN's encoder topology (stride-2 conv + BN + ReLU blocks, FC layers) ending in an
    L2-normalised ``dim``-d embedding, on (B, 3, S, S) images in [-1, 1].

    ``frozen_statistics`` keeps it in evaluation mode whatever ``train()`` asks: a pretrained encoder
    inside DTN must be the same function for x and G(x) and must not drift through its batch norms.
    """

    def __init__(self, arch: Mapping):
        super().__init__()
        check_encoder_arch(arch)
        self.arch = {k: copy.deepcopy(arch[k]) for k in ENCODER_ARCH_KEYS}
        self.dim = int(arch["dim"])
        cfg = {"image_size": arch["image_size"], "kernel": arch["kernel"], "encoder": list(arch["encoder"]),
               "embedding": list(arch["hidden"]) + [self.dim]}
        self.net = nn.Sequential(*encoder_layers(cfg))
        self.frozen_statistics = False

    def train(self, mode: bool = True) -> "FaceEncoder":
        return super().train(mode and not self.frozen_statistics)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=1)


class TernaryCritic(Discriminator):
    """DTN's D: Table 1c's convolutions (stride 2) then three logits: G(source), G(target), real target."""

    def __init__(self, cfg: Mapping):
        super().__init__(cfg, outputs=3)


# --- CycleGAN, UNIT and CUT: ResNet generators (Johnson et al. 2016) and the PatchGAN critic ----------

def init_convolutions(module: nn.Module, scheme: str = "normal", std: float = 0.02) -> nn.Module:
    """Every convolution's (and fully connected layer's) weights drawn by ``scheme``, biases zero:
    ``"normal"`` is N(0, std) (CycleGAN's generators, CycleGAN's, UNIT's and CUT's critics, CUT's
    generator and patch heads), ``"kaiming"`` He-normal on the fan-in (UNIT's generators, as its
    authors initialise them)."""
    if scheme not in ("normal", "kaiming"):
        raise ValueError(f"unknown initialisation {scheme!r}: use 'normal' or 'kaiming'")
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if scheme == "normal":
                nn.init.normal_(m.weight, 0.0, std)
            else:
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


class ResidualBlock(nn.Module):
    """x + (pad, conv 3x3, IN, ReLU, pad, conv 3x3, IN)(x): CycleGAN's and UNIT's residual block."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels),
                                  nn.ReLU(inplace=True), nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3),
                                  nn.InstanceNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


#: the ResNet generators' first layers, by name (CycleGAN's notation): (kernel, stride, reflection padding).
#: c7s1 is the paper's, at full resolution; c4s2 is XGAN's first layer (4x4, stride 2), which leaves no
#: feature map at full resolution: the cheap stem of cpu-small's baselines (a quarter of the pixels)
STEMS = {"c7s1": (7, 1, 3), "c4s2": (4, 2, 1)}


def resnet_down(width: int, downsample: int, stem: str = "c7s1") -> list[nn.Module]:
    """The ``stem`` (:data:`STEMS`) to ``width`` channels, then ``downsample`` stride-2 conv 3x3
    doubling the channels (IN + ReLU each)."""
    k, stride, pad = STEMS[stem]
    layers: list[nn.Module] = [nn.Sequential(nn.ReflectionPad2d(pad), nn.Conv2d(3, width, k, stride),
                                             nn.InstanceNorm2d(width), nn.ReLU(inplace=True))]
    for i in range(downsample):
        c = width * 2 ** i
        layers.append(nn.Sequential(nn.Conv2d(c, 2 * c, 3, 2, 1), nn.InstanceNorm2d(2 * c), nn.ReLU(inplace=True)))
    return layers


def resnet_up(width: int, downsample: int, stem: str = "c7s1") -> list[nn.Module]:
    """``downsample`` stride-2 transposed convs halving the channels (IN + ReLU), then the stem's mirror
    and tanh: c7s1-3 after c7s1; after c4s2 a 4x4 stride-2 transposed conv to 3 channels (XGAN's last layer)."""
    layers: list[nn.Module] = []
    for i in reversed(range(downsample)):
        c = width * 2 ** (i + 1)
        layers.append(nn.Sequential(nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1),
                                    nn.InstanceNorm2d(c // 2), nn.ReLU(inplace=True)))
    last = [nn.ReflectionPad2d(3), nn.Conv2d(width, 3, 7)] if STEMS[stem][1] == 1 else \
        [nn.ConvTranspose2d(width, 3, 4, 2, 1)]
    layers.append(nn.Sequential(*last, nn.Tanh()))
    return layers


def check_resnet(width: int, blocks: int, downsample: int, image_size: int, what: str, stem: str = "c7s1") -> None:
    """Raise ValueError (one sentence) for a ResNet generator that cannot be built."""
    if width < 1 or blocks < 0 or downsample < 1:
        raise ValueError(f"{what}: width must be >= 1, blocks >= 0 and downsample >= 1; "
                         f"got {width}, {blocks}, {downsample}")
    if stem not in STEMS:
        raise ValueError(f"{what}.stem must be one of {', '.join(STEMS)}; got {stem!r}")
    stride = STEMS[stem][1]
    if image_size % (stride * 2 ** downsample):
        raise ValueError(f"{what}: the {stem} stem and {downsample} stride-2 layers do not divide image_size {image_size}")


def resnet_tap_channels(width: int, blocks: int, downsample: int) -> tuple[int, ...]:
    """The channels at each encoder tap of a :class:`ResnetGenerator`: the image's 3, the stem's w, each
    stride-2 layer's doubling, then 4w (``downsample`` = 2) after each residual block."""
    return (3,) + tuple(width * 2 ** i for i in range(downsample + 1)) + (width * 2 ** downsample,) * blocks


class ResnetGenerator(nn.Module):
    """CycleGAN's generator: c7s1-w, d2w, d4w (``downsample`` = 2), ``blocks`` residual blocks at
    4w, u2w, uw, c7s1-3 with tanh; instance normalisation throughout (Zhu et al. 2017, App. 7.2).
    ``stem`` c4s2 starts with a 4x4 stride-2 conv and ends with its transpose to RGB instead: no
    feature map at full resolution (:data:`STEMS`).

    Its encoder's layers can be tapped (CUT's PatchNCE reads them): tap 0 is the input image, tap i
    the output of the i-th layer of the stem, the ``downsample`` stride-2 layers and the residual
    blocks, so the deepest tap is ``1 + downsample + blocks``."""

    def __init__(self, width: int, blocks: int, downsample: int = 2, stem: str = "c7s1"):
        super().__init__()
        c = width * 2 ** downsample
        self.net = nn.Sequential(*resnet_down(width, downsample, stem), *[ResidualBlock(c) for _ in range(blocks)],
                                 *resnet_up(width, downsample, stem))
        self.tap_channels = resnet_tap_channels(width, blocks, downsample)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def forward_taps(self, x: torch.Tensor, taps: Sequence[int], encode_only: bool = False
                     ) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        """(output, the features at ``taps``) in one pass; ``encode_only`` stops after the deepest tap
        and returns no output."""
        wanted, feats, h = set(taps), [x] if 0 in taps else [], x
        stop = max(taps) if encode_only else len(self.net)
        for i, layer in enumerate(self.net[:stop], 1):
            h = layer(h)  # each layer's in-place ReLUs act on its own intermediates, never on a tapped input
            if i in wanted:
                feats.append(h)
        return (None if encode_only else h), feats


class PatchCritic(nn.Module):
    """The PatchGAN critic (Isola et al. 2017; CycleGAN): one real/fake logit per image patch.

    C(w) 4x4 stride 2 with LeakyReLU 0.2, then ``downsample - 1`` more stride-2 layers doubling the
    channels, one stride-1 layer doubling them again (a norm + LeakyReLU after each but the first) and a
    stride-1 conv to one channel. With ``downsample`` = 3 the patches are the paper's 70x70 (on 256px
    images); 2 gives 34x34 patches, about half of a 64px face. ``norm``: ``instance`` (CycleGAN's),
    ``spectral`` (spectral norm on every layer, no norm of the activations) or ``none``.
    """

    def __init__(self, width: int, downsample: int = 2, norm: str = "instance"):
        super().__init__()
        if width < 1 or downsample < 1:
            raise ValueError(f"the critic needs width >= 1 and downsample >= 1, got {width}, {downsample}")
        if norm not in ("instance", "spectral", "none"):
            raise ValueError(f"a PatchGAN critic's norm must be instance, spectral or none, got {norm!r}")
        layers: list[nn.Module] = [nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        c = width
        for stride in [2] * (downsample - 1) + [1]:
            layers += ([nn.Conv2d(c, 2 * c, 4, stride, 1)] + ([nn.InstanceNorm2d(2 * c)] if norm == "instance" else [])
                       + [nn.LeakyReLU(0.2, inplace=True)])
            c *= 2
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        if norm == "spectral":
            spectral(self.net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, P, P) patch logits."""
        return self.net(x)


class PatchHeads(nn.Module):
    """CUT's projection heads H_l (Park et al. 2020): one two-layer MLP per tapped encoder layer
    (Linear, ReLU, Linear, ``width`` units), applied to features sampled at patch locations and
    L2-normalised, the space in which PatchNCE compares patches."""

    def __init__(self, channels: Sequence[int], width: int):
        super().__init__()
        if width < 1:
            raise ValueError(f"the patch heads need a width >= 1, got {width}")
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(c, width), nn.ReLU(inplace=True), nn.Linear(width, width))
                                  for c in channels)

    def forward(self, layer: int, features: torch.Tensor) -> torch.Tensor:
        """(..., C_layer) features -> (..., width) unit vectors."""
        return F.normalize(self.mlps[layer](features), dim=-1)


class SharedLatentAutoencoders(nn.Module):
    """UNIT's E_face, E_cartoon, G_face, G_cartoon (Liu et al. 2017, §2 and appendix): ResNet encoders
    whose last ``shared`` residual blocks are one module, into a shared spatial latent z; generators
    whose first ``shared`` residual blocks are one module. ``encode`` returns the mean of q(z|x),
    (B, 4w, S/4, S/4) for ``downsample`` = 2 (S/8 after the c4s2 ``stem``, see :data:`STEMS`); q has
    unit variance, so a sample is ``mu + N(0, I)``.

    As :class:`DualAutoencoder`, batches are stacked by domain and each shared layer runs once.
    """

    def __init__(self, width: int, blocks: int, shared: int, downsample: int = 2, stem: str = "c7s1"):
        super().__init__()
        if not 1 <= shared <= blocks:
            raise ValueError(f"unit.shared_blocks must be between 1 and unit.blocks ({blocks}), got {shared}")
        c = width * 2 ** downsample
        self.enc_private = nn.ModuleDict({d: nn.Sequential(*resnet_down(width, downsample, stem),
                                                           *[ResidualBlock(c) for _ in range(blocks - shared)])
                                          for d in DOMAINS})
        self.enc_shared = nn.Sequential(*[ResidualBlock(c) for _ in range(shared)])
        self.dec_shared = nn.Sequential(*[ResidualBlock(c) for _ in range(shared)])
        self.dec_private = nn.ModuleDict({d: nn.Sequential(*[ResidualBlock(c) for _ in range(blocks - shared)],
                                                           *resnet_up(width, downsample, stem))
                                          for d in DOMAINS})

    def encode(self, images: Sequence[torch.Tensor], domains: Sequence[str]) -> torch.Tensor:
        """The means of q(z | x) of ``images[i]`` through ``E_{domains[i]}``, stacked in order."""
        return self.enc_shared(torch.cat([self.enc_private[d](x) for x, d in zip(images, domains)]))

    def decode(self, z: torch.Tensor, domains: Sequence[str]) -> list[torch.Tensor]:
        """``G_domain(z)`` for each domain in ``domains`` (the shared blocks run once)."""
        u = self.dec_shared(z)
        return [self.dec_private[d](u) for d in domains]


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def parameter_report(networks: Mapping[str, nn.Module]) -> dict[str, int]:
    """Trainable parameters per network, with the autoencoder's shared/per-domain parts itemised."""
    out: dict[str, int] = {}
    for name, net in networks.items():
        out[name] = count_parameters(net)
        if isinstance(net, (DualAutoencoder, SharedLatentAutoencoders)):
            for part in ("enc_private", "enc_shared", "dec_shared", "dec_private"):
                out[f"{name}.{part}"] = count_parameters(getattr(net, part))
    return out
