namespace ActionKit.Pipeline;

/// <summary>ActionKit's version, as the CLI and exported models report it and locks record it (stage keys hold the code itself).</summary>
public static class ActionKitVersion
{
    public static string Current { get; } = typeof(ActionKitVersion).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
