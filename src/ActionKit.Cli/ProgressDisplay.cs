using ActionKit.Data;
using Spectre.Console;

namespace ActionKit.Cli;

/// <summary>
/// Shows a stage's <see cref="WorkProgress"/>: live Spectre progress bars on an interactive terminal, plain lines
/// (every tenth of the way) when output is redirected, as in CI logs.
/// </summary>
internal static class ProgressDisplay
{
    public static void Run(IAnsiConsole console, Action<IProgress<WorkProgress>> work)
    {
        if (!console.Profile.Capabilities.Interactive)
        {
            work(new LineProgress(console));
            return;
        }
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(bars => work(new BarProgress(bars)));
    }

    private sealed class BarProgress(ProgressContext bars) : IProgress<WorkProgress>
    {
        private readonly Dictionary<string, ProgressTask> tasks = [];

        public void Report(WorkProgress value)
        {
            lock (tasks)
            {
                if (!tasks.TryGetValue(value.Description, out var task))
                    tasks[value.Description] = task = bars.AddTask(Markup.Escape(value.Description));
                if (value.Detail is not null)
                    task.Description = Markup.Escape($"{value.Description}  {value.Detail}");
                task.MaxValue = Math.Max(value.Total, 1);
                task.Value = value.Completed;
            }
        }
    }

    private sealed class LineProgress(IAnsiConsole console) : IProgress<WorkProgress>
    {
        private readonly Dictionary<string, long> printedTenths = [];

        public void Report(WorkProgress value)
        {
            long tenths = value.Total > 0 ? value.Completed * 10 / value.Total : 10;
            lock (printedTenths)
            {
                if (printedTenths.TryGetValue(value.Description, out long printed) && tenths <= printed)
                    return;
                printedTenths[value.Description] = tenths;
            }
            console.MarkupLineInterpolated($"  {value.Description}: {value.Completed}/{value.Total}{(value.Detail is null ? "" : "  " + value.Detail)}");
        }
    }
}
