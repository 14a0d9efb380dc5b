namespace ActionKit.Data;

/// <summary>Progress of a long operation: <paramref name="Completed"/> of <paramref name="Total"/> items
/// (videos, frames) of the step named by <paramref name="Description"/>.</summary>
public sealed record WorkProgress(string Description, long Completed, long Total);
