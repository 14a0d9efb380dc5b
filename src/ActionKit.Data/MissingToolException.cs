namespace ActionKit.Data;

/// <summary>An external program this library drives (ffmpeg, ffprobe) is not installed;
/// the message says how to install it.</summary>
public sealed class MissingToolException(string toolName, string installHint)
    : Exception($"{toolName} was not found on PATH; install it with `{installHint}`.")
{
    public string ToolName { get; } = toolName;
}
