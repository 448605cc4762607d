"""``rempart scan``: judge every image and video under a policy, with hashes, signals and
reasons, a summary, and an HTML report."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Annotated

import typer

from rempart.cli.detectors import (
    DetectorOption,
    bank_matcher,
    choose_detectors,
    detector_registry,
)
from rempart.cli.errors import ExitCode
from rempart.cli.options import (
    AllFilesOption,
    BankOption,
    FollowLinksOption,
    JobsOption,
    OutOption,
    PathsArgument,
    PersonsFlag,
    PolicyOption,
    RecursiveOption,
    RegistryFlag,
    ReportOption,
    ResumeFlag,
    current_settings,
    default_jobs,
    walk_paths,
)
from rempart.cli.output import print_summary, progress

__all__ = ["scan_command"]


class Engine(StrEnum):
    """Where the images are judged."""

    LOCAL = "local"
    RAY = "ray"


class OutFormat(StrEnum):
    """What --out holds."""

    JSONL = "jsonl"
    PARQUET = "parquet"


def scan_command(
    paths: PathsArgument,
    policy_name: PolicyOption = "default",
    bank_names: BankOption = None,
    persons: PersonsFlag = False,
    registry: RegistryFlag = False,
    detector_names: DetectorOption = None,
    jobs: JobsOption = None,
    out: OutOption = None,
    report: ReportOption = None,
    resume: ResumeFlag = False,
    sample_size: Annotated[
        int | None,
        typer.Option(
            "--sample",
            min=1,
            metavar="N",
            help="Scan N files drawn at random, and report prevalence [default: every file].",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="The random draw of --sample.")
    ] = 0,
    recursive: RecursiveOption = False,
    follow_links: FollowLinksOption = False,
    all_files: AllFilesOption = False,
    out_format: Annotated[
        OutFormat,
        typer.Option(
            "--format",
            help="jsonl, or parquet: --out is then a folder of Parquet shards, one row per file.",
        ),
    ] = OutFormat.JSONL,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="local, or ray: the images are judged by actors on a Ray cluster (the 'ray' "
            "extra).",
        ),
    ] = Engine.LOCAL,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            metavar="auto|ray://HOST:PORT",
            help="The Ray cluster to join [default: REMPART_RAY_ADDRESS, RAY_ADDRESS, else "
            "a Ray started here].",
        ),
    ] = None,
    actors: Annotated[
        int | None,
        typer.Option(
            "--actors",
            min=1,
            metavar="N",
            help="Ray actors judging images [default: one per CPU of the cluster].",
        ),
    ] = None,
    gpu: Annotated[
        bool,
        typer.Option(
            "--gpu",
            help="Run the models on GPUs (ONNX Runtime's CUDA provider); refused where there "
            "is none.",
        ),
    ] = False,
) -> None:
    """Judge images and videos under a policy: hashes, bank matches, every detector's signals,
    a verdict.

    JSON Lines: one {"path", "sha256", "md5", "pdq", "quality", "width", "height", "verdict":
    {"action", "categories", "reasons", "policy"}, "signals": [...]} per image; per video
    {"path", "kind": "video", "sha256", "md5", "width", "height", "duration", "frames",
    "flagged_at", "verdict", "signals"}, a frame a second screened and each signal naming the
    "timestamps" of its frames; or {"path", "error"}. An --out file starts with a line
    {"rempart_scan": {...}} naming what made it: --resume refuses an output made by another
    policy, other detectors or other banks. Links are followed inside the tree only (-L:
    everywhere); files that are neither images nor videos are skipped inside folders
    (--all-files: reported). A summary goes to standard error. Exit status 0 when every file
    was judged, 1 when some could not be read, 2 for a usage or configuration error, 130 on
    Ctrl-C (whole lines kept; --resume goes on).

    \b
    Examples:
      rempart scan uploads/ --out verdicts.jsonl --report report.html
      rempart scan dump/ -r --policy strict --bank stopncii --jobs 2
      rempart scan dump/ -r --sample 1000 --policy survey --report prevalence.html
      rempart scan uploads/ --out verdicts.jsonl --resume
      rempart scan /shared/dump -r --engine ray --out out/ --format parquet
      rempart scan s3://bucket/dump/ -r --engine ray --address auto -o out.jsonl
    """
    from rempart.desk.watch import Watch
    from rempart.detectors.banks import bank_matches
    from rempart.errors import EngineError
    from rempart.media import STDIN
    from rempart.policy import load_policy
    from rempart.scan import Judge, ScanJob, Scanner, ScanResult, VideoResult
    from rempart.scan.fingerprint import run_fingerprint
    from rempart.scan.job import check_destinations
    from rempart.scan.ray_engine import RayJudge, ScannerRecipe, import_ray, is_url, list_url
    from rempart.walk import media_kind

    settings = current_settings()
    if engine is Engine.LOCAL and (address is not None or actors is not None):
        raise EngineError(
            f"{'--address' if address is not None else '--actors'} is for --engine ray"
        )
    if engine is Engine.RAY:
        # EngineError, saying which extra installs it; a Ray of this scan alone on loopback.
        import_ray(alone=not (address or settings.ray_address or os.environ.get("RAY_ADDRESS")))
    parquet = out_format is OutFormat.PARQUET
    # Before any model is loaded.
    check_destinations(out, report, resume=resume, parquet=parquet)
    gpu = gpu or settings.onnx_provider == "cuda"
    if gpu and engine is Engine.LOCAL:
        from rempart.detectors.onnx import provider_names

        # DetectorError where this onnxruntime has no CUDA; where it has, "auto" runs on it.
        provider_names("cuda")
    policy = load_policy(policy_name)
    detectors = detector_registry(settings)
    with_persons = persons or registry
    names = choose_detectors(
        detectors, detector_names, leave_out=() if with_persons else ("identity",)
    )
    if with_persons and "identity" not in names:
        names += choose_detectors(detectors, ["identity"])
    urls = [path for path in paths if is_url(path)]
    if urls and engine is not Engine.RAY:
        raise EngineError(f"{urls[0]}: URLs are read by --engine ray only")
    files, walk = walk_paths(
        [path for path in paths if not is_url(path)],
        recursive=recursive,
        follow_links=follow_links,
        all_files=all_files,
        kind=media_kind(),
    )
    files += [file for url in urls for file in list_url(url, recursive=recursive)]
    matcher = bank_matcher(settings, bank_names)
    # A copy of a reported image found here shows on its case.
    watch = Watch(matcher.store) if matcher is not None else None

    ray = None
    try:  # the bank store and the cluster are closed whatever fails from here

        def watched(result: ScanResult | VideoResult) -> None:
            if watch is not None:
                watch.observe(bank_matches(result.signals), key_id=None)

        scanner = Scanner.from_registry(
            detectors,
            policy,
            names=names,
            matcher=matcher,
            thumbnails=report is not None,
            limits=settings.media,
            video_limits=settings.video,
        )
        if engine is Engine.RAY:
            if STDIN in files:
                raise EngineError(
                    "--engine ray reads each file from its path on the cluster's nodes; - "
                    "(standard input) is not one"
                )
            ray = RayJudge(
                ScannerRecipe.of(
                    os.environ,
                    settings.database_url,
                    policy,
                    names,
                    with_banks=matcher is not None,
                    banks=bank_names or None,
                    thumbnails=report is not None,
                    batch_size=settings.ray_batch_size,
                ),
                address=address or settings.ray_address or None,
                actors=actors or settings.ray_actors,
                gpu=gpu,
            )
            ray.connect()  # refuses a cluster that cannot run what is asked, before any work
        judge: Judge[ScanResult | VideoResult] = ray if ray is not None else scanner
        job = ScanJob(
            judge,
            files,
            out=out,
            resume=resume,
            sample_size=sample_size,
            seed=seed,
            report=report,
            jobs=jobs or default_jobs(),
            banks=bank_names or None,
            on_result=watched,
            # The local engine's fingerprint: a scan may be resumed on either engine.
            fingerprint=run_fingerprint(scanner, bank_names or None) if ray is not None else None,
            out_format=out_format.value,
        )
        outcome = job.run(sys.stdout, progress=lambda total: progress("Scanning", total=total))
    finally:  # what was seen before Ctrl-C too: a resumed run does not judge it again
        if watch is not None:
            watch.close()
        if ray is not None:
            ray.close()
        if matcher is not None:
            matcher.store.close()  # its connections, not left to the garbage collector
    note = walk.skipped_note()
    print_summary(outcome.summary, title="Scan summary", skipped=outcome.skipped, not_read=note)
    if report is not None:
        typer.echo(f"Report: {report}", err=True)
    raise typer.Exit(ExitCode.SOME_FAILED if outcome.summary.failed else ExitCode.OK)
