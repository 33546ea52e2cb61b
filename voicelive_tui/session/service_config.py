"""What the client asks of the service: the session configuration and connect arguments.

Pure functions of :class:`~voicelive_tui.config.resolve.Settings` (and the live overrides); the
wire helpers that need no settings are :mod:`voicelive_tui.protocol`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from azure.ai.voicelive.models import (
    AudioEchoCancellation,
    AudioInputTranscriptionOptions,
    AudioNoiseReduction,
    AudioTimestampType,
    AzureSemanticDetection,
    AzureSemanticDetectionEn,
    AzureSemanticDetectionMultilingual,
    AzureSemanticVad,
    AzureSemanticVadEn,
    AzureSemanticVadMultilingual,
    AzureStandardVoice,
    EouDetection,
    FunctionTool,
    InputAudioFormat,
    MCPServer,
    Modality,
    OutputAudioFormat,
    RequestSession,
    ServerVad,
    ToolChoiceFunctionSelection,
    TurnDetection,
)

from voicelive_tui.config.resolve import DEFAULT_INSTRUCTIONS, Settings
from voicelive_tui.config.turns import (
    TurnTaking,
    noise_reduction_wire,
    transcription_wire,
    turn_detection_wire,
)


def voice_config(voice: str) -> AzureStandardVoice | str:
    """Azure voice for names with a '-', else an OpenAI voice name, as the seed does."""
    if "-" in voice:
        return AzureStandardVoice(name=voice)
    return voice


@dataclass(frozen=True)
class SessionOverrides:
    """Values changed live (the command palette, the turn-taking screen); None: as
    configured. ``turns`` replaces the whole turn-taking configuration; the VAD values
    and the noise reduction apply on top."""

    voice: str | None = None
    threshold: float | None = None
    prefix_ms: int | None = None
    silence_ms: int | None = None
    noise_reduction: str | None = None
    """``azure_deep_noise_suppression``, ``near_field`` or ``far_field``."""
    echo_reference: str | None = None
    """``server`` or ``client``: the input's channels change, so the session is renewed."""
    turns: TurnTaking | None = None

    def merged(self, newer: SessionOverrides) -> SessionOverrides:
        """These overrides with the values ``newer`` sets replacing them."""
        changes = {k: v for k, v in vars(newer).items() if v is not None and v != ""}
        if newer.turns is not None:
            # The new turn taking was edited from the effective values: they are in it.
            changes.update(threshold=newer.threshold, prefix_ms=newer.prefix_ms)
            changes.update(silence_ms=newer.silence_ms, noise_reduction=newer.noise_reduction)
        return replace(self, **changes)

    def turn_taking(self, settings: Settings) -> TurnTaking:
        """The turn taking in effect: configured, then replaced, then the VAD values and
        the noise reduction."""
        turns = self.turns or settings.turn_taking
        return turns.changed(
            noise_reduction=_first(self.noise_reduction, turns.noise_reduction),
            threshold=_first(self.threshold, turns.threshold),
            prefix_ms=_first(self.prefix_ms, turns.prefix_ms),
            silence_ms=_first(self.silence_ms, turns.silence_ms),
        )


_DETECTOR_MODELS: dict[str, type[TurnDetection]] = {
    "server_vad": ServerVad,
    "azure_semantic_vad": AzureSemanticVad,
    "azure_semantic_vad_en": AzureSemanticVadEn,
    "azure_semantic_vad_multilingual": AzureSemanticVadMultilingual,
}
_EOU_MODELS: dict[str, type[EouDetection]] = {
    "semantic_detection_v1": AzureSemanticDetection,
    "semantic_detection_v1_en": AzureSemanticDetectionEn,
    "semantic_detection_v1_multilingual": AzureSemanticDetectionMultilingual,
}


def turn_detection_config(turns: TurnTaking) -> TurnDetection | None:
    """``turn_detection`` as the SDK's model of the chosen detector; None: the client decides."""
    wire = turn_detection_wire(turns)
    if wire is None:
        return None
    eou = wire.pop("end_of_utterance_detection", None)
    if eou is not None:
        wire["end_of_utterance_detection"] = _EOU_MODELS[eou["model"]](eou)
    return _DETECTOR_MODELS[wire["type"]](wire)


NOISE_REDUCTIONS = ("azure_deep_noise_suppression", "near_field", "far_field")
"""The service's noise reduction types (near_field: a headset's microphone; far_field: a
laptop's own, across the room)."""
AUTO_CLIENT_OVER_S = 0.1
"""``--echo-reference auto`` takes the client's reference for an output buffer deeper than
this: the service's send-time reference is then this late or more."""


@dataclass(frozen=True)
class EchoChoice:
    """The echo reference chosen for this run, and why (for the status bar and the log)."""

    reference: Literal["server", "client"]
    why: str

    def line(self) -> str:
        """``Echo reference: client (the speaker's buffer is 200 ms)``."""
        return f"Echo reference: {self.reference} ({self.why})"


def choose_echo_reference(
    settings: Settings, *, supports_client: bool, output_latency_s: float
) -> EchoChoice:
    """``--echo-reference`` made concrete for a backend: ``client`` needs one that can send
    what its speaker played (sound devices); ``auto`` takes it when the sound server is
    forwarded or the output buffer is deeper than :data:`AUTO_CLIENT_OVER_S`."""
    wanted = settings.echo_reference
    if not settings.echo_cancellation:
        return EchoChoice("server", "echo cancellation off")
    if wanted == "server":
        return EchoChoice("server", "--echo-reference server")
    if not supports_client:
        return EchoChoice("server", "no sound devices to take a reference from")
    if wanted == "client":
        return EchoChoice("client", "--echo-reference client")
    if settings.pulse_forwarded:
        return EchoChoice("client", "auto: the sound server is forwarded")
    if output_latency_s > AUTO_CLIENT_OVER_S:
        return EchoChoice(
            "client", f"auto: the speaker's buffer is {output_latency_s * 1000:.0f} ms"
        )
    return EchoChoice("server", f"auto: the speaker's buffer is {output_latency_s * 1000:.0f} ms")


def echo_cancellation(reference: str) -> AudioEchoCancellation:
    """The session's ``input_audio_echo_cancellation`` for ``reference`` (server, client)."""
    if reference == "client":
        return AudioEchoCancellation(reference_source="client", channels=2)
    return AudioEchoCancellation()


def build_session_config(
    settings: Settings, overrides: SessionOverrides | None = None, *, reference: str = "server"
) -> RequestSession:
    """The seed's session: text+audio, PCM16 both ways, server VAD, echo and noise control.

    With ``--no-audio`` the agent is asked for text only, so no speech is downloaded to be
    thrown away. ``overrides`` replace the configured voice and VAD values; ``reference``
    is the echo reference chosen (:func:`choose_echo_reference`).
    """
    o = overrides or SessionOverrides()
    turns = o.turn_taking(settings)
    noise = noise_reduction_wire(turns)
    config = RequestSession(
        modalities=[Modality.TEXT] if settings.no_audio else [Modality.TEXT, Modality.AUDIO],
        voice=voice_config(o.voice or settings.voice),
        input_audio_format=InputAudioFormat.PCM16,
        output_audio_format=OutputAudioFormat.PCM16,
        # None is sent as null: server VAD off (push to talk, or "none").
        turn_detection=turn_detection_config(turns),
        input_audio_transcription=AudioInputTranscriptionOptions(transcription_wire(turns)),
        # null turns noise reduction off on a live edit (absent would keep the old one).
        input_audio_noise_reduction=AudioNoiseReduction(noise) if noise else None,
    )
    if settings.echo_cancellation:
        config.input_audio_echo_cancellation = echo_cancellation(reference)
    if settings.mode == "model":
        config.instructions = settings.instructions or DEFAULT_INSTRUCTIONS
    if "-" in (o.voice or settings.voice):
        # Azure voices time every word: a barge-in then cuts the transcript at the last
        # word the user heard (other voices fall back to an estimate).
        config.output_audio_timestamp_types = [AudioTimestampType.WORD]
    if settings.tools:
        config.tools = [
            MCPServer(t)
            if t["type"] == "mcp"
            else FunctionTool(
                name=t["name"], description=t["description"], parameters=t["parameters"]
            )
            for t in settings.tools
        ]
        choice = settings.tool_choice
        if isinstance(choice, dict):
            config.tool_choice = ToolChoiceFunctionSelection(name=str(choice["name"]))
        elif choice is not None:
            config.tool_choice = choice
    return config


def _first(override: Any, configured: Any) -> Any:
    return configured if override is None else override


def connect_kwargs(
    settings: Settings,
    *,
    endpoint: str,
    credential: Any,
    conversation_id: str | None = None,
    agent_access_token: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for the SDK's ``connect()`` in the configured mode.

    ``conversation_id`` (the one the service gave, on reconnect) wins over the
    configured ``--conversation-id``.
    """
    kwargs: dict[str, Any] = {"endpoint": endpoint, "credential": credential}
    if settings.api_version:
        kwargs["api_version"] = settings.api_version
    if settings.mode == "agent":
        kwargs["agent_name"] = settings.agent_name
        kwargs["project_name"] = settings.project_name
        optional = {
            "agent_version": settings.agent_version,
            "conversation_id": conversation_id or settings.conversation_id,
            "authentication_identity_client_id": settings.auth_identity_client_id,
            "foundry_resource_override": settings.foundry_resource_override,
        }
        kwargs.update({k: v for k, v in optional.items() if v})
    elif settings.mode == "legacy-agent":
        query = {"agent-id": settings.agent_id}
        if settings.agent_connection_string:
            query["agent-connection-string"] = settings.agent_connection_string
        else:
            query["agent-project-name"] = settings.project_name
        if agent_access_token:
            query["agent-access-token"] = agent_access_token
        kwargs["query"] = query
    else:
        kwargs["model"] = settings.effective_model
    return kwargs
