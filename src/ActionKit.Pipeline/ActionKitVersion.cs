namespace ActionKit.Pipeline;

/// <summary>The ActionKit version that enters every stage key: a new version re-runs the stages whose code it changed.</summary>
public static class ActionKitVersion
{
    public static string Current { get; } = typeof(ActionKitVersion).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
